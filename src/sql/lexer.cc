#include "sql/lexer.h"

#include <cctype>

namespace scion::sql {
namespace {

bool IsWordStart(unsigned char c) { return std::isalpha(c) || c == '_' || c == '$' || c >= 0x80; }
bool IsWordChar(unsigned char c) { return std::isalnum(c) || c == '_' || c == '$' || c >= 0x80; }

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  std::vector<Token> Run() {
    while (i_ < s_.size()) Step();
    return std::move(out_);
  }

 private:
  char At(std::size_t k) const { return k < s_.size() ? s_[k] : '\0'; }

  void Step() {
    unsigned char c = static_cast<unsigned char>(s_[i_]);
    std::size_t start = i_;
    if (std::isspace(c)) {
      ++i_;
      return;
    }
    if (c == '#' || (c == '-' && At(i_ + 1) == '-' && (std::isspace(static_cast<unsigned char>(At(i_ + 2))) ||
                                                     At(i_ + 2) == '\0'))) {
      while (i_ < s_.size() && s_[i_] != '\n') ++i_;
      return;
    }
    if (c == '/' && At(i_ + 1) == '*') {
      Comment();
      return;
    }
    if (c == '*' && At(i_ + 1) == '/' && executable_depth_ > 0) {  // end of an executable comment
      --executable_depth_;
      i_ += 2;
      return;
    }
    if (c == '\'' || c == '"') {
      out_.push_back({TokenKind::kString, Quoted(c), start});
      return;
    }
    if (c == '`') {
      out_.push_back({TokenKind::kQuotedName, Quoted('`'), start});
      return;
    }
    if (c == ';') {
      out_.push_back({TokenKind::kSemicolon, ";", start});
      ++i_;
      return;
    }
    if (c == '?') {
      out_.push_back({TokenKind::kPlaceholder, "?", start});
      ++i_;
      return;
    }
    if (c == '@') {
      Variable();
      return;
    }
    // x'..' / b'..' / n'..' literals and charset introducers (_latin1'..').
    if ((c == 'x' || c == 'X' || c == 'b' || c == 'B') && At(i_ + 1) == '\'') {
      ++i_;
      out_.push_back({TokenKind::kNumber, Quoted('\''), start});
      return;
    }
    if ((c == 'n' || c == 'N') && At(i_ + 1) == '\'') {
      ++i_;
      out_.push_back({TokenKind::kString, Quoted('\''), start});
      return;
    }
    if (std::isdigit(c) || (c == '.' && std::isdigit(static_cast<unsigned char>(At(i_ + 1))))) {
      Number();
      return;
    }
    if (IsWordStart(c)) {
      while (i_ < s_.size() && IsWordChar(static_cast<unsigned char>(s_[i_]))) ++i_;
      std::string word(s_.substr(start, i_ - start));
      if (word[0] == '_' && (At(i_) == '\'' || At(i_) == '"')) {  // introducer: the string follows
        out_.push_back({TokenKind::kString, Quoted(s_[i_]), start});
        return;
      }
      out_.push_back({TokenKind::kWord, std::move(word), start});
      return;
    }
    // Operators: keep common multi-character ones together.
    static constexpr std::string_view kOps[] = {"<=>", "<=", ">=", "<>", "!=", ":=", "||", "&&", "<<", ">>", "->>",
                                                "->"};
    for (auto op : kOps) {
      if (s_.substr(i_, op.size()) == op) {
        out_.push_back({TokenKind::kPunct, std::string(op), start});
        i_ += op.size();
        return;
      }
    }
    out_.push_back({TokenKind::kPunct, std::string(1, static_cast<char>(c)), start});
    ++i_;
  }

  void Comment() {
    // /*! or /*M! (optionally followed by a version) is SQL; anything else is skipped.
    std::size_t k = i_ + 2;
    bool executable = false;
    if (At(k) == '!') {
      executable = true;
      ++k;
    } else if ((At(k) == 'M' || At(k) == 'm') && At(k + 1) == '!') {
      executable = true;
      k += 2;
    }
    if (executable) {
      while (std::isdigit(static_cast<unsigned char>(At(k)))) ++k;
      ++executable_depth_;
      i_ = k;
      return;
    }
    auto end = s_.find("*/", i_ + 2);
    i_ = end == std::string_view::npos ? s_.size() : end + 2;
  }

  std::string Quoted(char q) {
    std::string value;
    ++i_;  // opening quote
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == '\\' && q != '`' && i_ + 1 < s_.size()) {
        char n = s_[i_ + 1];
        switch (n) {
          case 'n': value += '\n'; break;
          case 't': value += '\t'; break;
          case 'r': value += '\r'; break;
          case '0': value += '\0'; break;
          case 'Z': value += '\x1a'; break;
          default: value += n;
        }
        i_ += 2;
        continue;
      }
      if (c == q) {
        if (At(i_ + 1) == q) {  // doubled quote
          value += q;
          i_ += 2;
          continue;
        }
        ++i_;
        return value;
      }
      value += c;
      ++i_;
    }
    return value;  // unterminated: to the end
  }

  void Variable() {
    std::size_t start = i_;
    ++i_;
    if (At(i_) == '@') ++i_;
    if (At(i_) == '\'' || At(i_) == '"' || At(i_) == '`') {
      std::string name = Quoted(s_[i_]);
      out_.push_back({TokenKind::kVariable, "@" + name, start});
      return;
    }
    while (i_ < s_.size() && (IsWordChar(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.')) ++i_;
    out_.push_back({TokenKind::kVariable, std::string(s_.substr(start, i_ - start)), start});
  }

  void Number() {
    std::size_t start = i_;
    if (s_[i_] == '0' && (At(i_ + 1) == 'x' || At(i_ + 1) == 'X' || At(i_ + 1) == 'b' || At(i_ + 1) == 'B')) {
      i_ += 2;
      while (i_ < s_.size() && std::isxdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
    } else {
      while (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.')) ++i_;
      if ((At(i_) == 'e' || At(i_) == 'E') &&
          (std::isdigit(static_cast<unsigned char>(At(i_ + 1))) ||
           ((At(i_ + 1) == '+' || At(i_ + 1) == '-') && std::isdigit(static_cast<unsigned char>(At(i_ + 2)))))) {
        i_ += 2;
        while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
      }
    }
    // 1abc is an identifier in MySQL.
    if (i_ < s_.size() && IsWordStart(static_cast<unsigned char>(s_[i_]))) {
      while (i_ < s_.size() && IsWordChar(static_cast<unsigned char>(s_[i_]))) ++i_;
      out_.push_back({TokenKind::kWord, std::string(s_.substr(start, i_ - start)), start});
      return;
    }
    out_.push_back({TokenKind::kNumber, std::string(s_.substr(start, i_ - start)), start});
  }

  std::string_view s_;
  std::size_t i_ = 0;
  int executable_depth_ = 0;
  std::vector<Token> out_;
};

}  // namespace

bool Token::Is(std::string_view keyword) const {
  if (kind != TokenKind::kWord || text.size() != keyword.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(text[i])) != std::toupper(static_cast<unsigned char>(keyword[i]))) {
      return false;
    }
  }
  return true;
}

std::vector<Token> Lex(std::string_view sql) { return Lexer(sql).Run(); }

}  // namespace scion::sql
