// A lexer for MySQL/MariaDB SQL, for classifying statements (not for executing them).
//
// Knows quotes ('...', "...", `...` with doubled quotes and backslash escapes), comments
// (`-- `, `#`, `/* */`), executable comments (`/*! ... */`, `/*!50001 ... */`, `/*M! ... */`,
// `/*M!100301 ... */`) whose content is lexed as SQL, hex and bit literals (x'..', 0x.., b'..',
// 0b..), charset introducers (_utf8mb4'...', N'...') and statement separators. Never fails:
// unterminated quotes or comments end at the end of input.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace scion::sql {

enum class TokenKind {
  kWord,        // identifier or keyword, unquoted
  kQuotedName,  // `name` (text holds the unquoted name)
  kString,      // 'text' or "text" (text holds the unescaped value), with or without introducer
  kNumber,      // 12, 1.5e3, 0x1F, x'1F', b'01', 0b01
  kVariable,    // @name, @@name, @'name'
  kPlaceholder, // ?
  kSemicolon,
  kPunct,       // any other operator or punctuation, one or more characters
};

struct Token {
  TokenKind kind;
  std::string text;         // as described per kind; words keep their case
  std::size_t offset = 0;   // byte offset in the input
  bool Is(std::string_view keyword) const;  // case-insensitive word comparison
};

std::vector<Token> Lex(std::string_view sql);

}  // namespace scion::sql
