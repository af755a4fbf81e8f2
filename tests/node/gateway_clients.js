// Drives Scion's gateway with Node's mysql2 (caching_sha2_password, TLS, server-side prepared
// statements). Usage: node gateway_clients.js CONFIG_JSON. CONFIG: {host, port, database, ca,
// first: {username, plain_text}, second: {username, plain_text}}. Prints one JSON line of
// results; exits 1 with the failed check on stderr.
'use strict';
const fs = require('fs');
const mysql = require('mysql2/promise');

const cfg = JSON.parse(process.argv[2]);
const results = {};

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

function options(pw, extra = {}) {
  return { host: cfg.host, port: cfg.port, user: pw.username, password: pw.plain_text, database: cfg.database,
           ...extra };
}

async function expectError(promise, errno, what) {
  try {
    await promise;
  } catch (e) {
    check(e.errno === errno, `${what}: errno ${e.errno} (${e.message}), want ${errno}`);
    return e;
  }
  throw new Error(`check failed: ${what} succeeded, want error ${errno}`);
}

async function main() {
  const tls = { ssl: { ca: fs.readFileSync(cfg.ca) } };  // verifies the certificate and the host name

  // caching_sha2_password: full authentication over TLS, then fast authentication from the cache.
  let c = await mysql.createConnection(options(cfg.first, tls));
  const [[who]] = await c.query('SELECT DATABASE() AS db, CURRENT_USER() AS u');
  check(who.db === cfg.database, 'default database');
  results.backend_user = who.u;
  await c.end();
  c = await mysql.createConnection(options(cfg.first, tls));
  await c.end();
  results.tls_logins = 2;

  // Without TLS and without a cached entry: auth switch to mysql_native_password.
  c = await mysql.createConnection(options(cfg.second, { multipleStatements: true }));
  results.plain_login = true;

  await c.query('CREATE TABLE node_items (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL, price DECIMAL(10,2), ' +
                'created DATETIME(3), data JSON, blob_col LONGBLOB)');
  // Server-side prepared statements with every common type.
  for (let i = 1; i <= 50; i++) {
    await c.execute('INSERT INTO node_items (id, name, price, created, data) VALUES (?, ?, ?, ?, ?)',
                    [i, `item-${i}`, (i * 1.25).toFixed(2), new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
                     JSON.stringify({ n: i })]);
  }
  const [rows] = await c.execute('SELECT id, name, price FROM node_items WHERE id > ? ORDER BY id', [45]);
  check(rows.length === 5 && rows[0].id === 46 && rows[0].name === 'item-46' && rows[0].price === '57.50',
        `prepared select: ${JSON.stringify(rows[0])}`);
  results.prepared = rows.length;

  // Multi-statements and multi-results.
  const [multi] = await c.query('SELECT 1 AS a; SELECT 2 AS b; UPDATE node_items SET price = price WHERE id = 1');
  check(multi.length === 3 && multi[0][0].a === 1 && multi[1][0].b === 2, 'multi-statement results');
  results.multi_results = multi.length;

  // A large result: 100k+ rows.
  const [big] = await c.query('SELECT seq, CONCAT("row-", seq) AS label FROM seq_1_to_120000');
  check(big.length === 120000 && big[119999].label === 'row-120000', `big result: ${big.length}`);
  results.big_rows = big.length;

  // Packets of 16 MB and more, both ways.
  const blob = Buffer.alloc(20 * 1024 * 1024 + 7, 0x61);
  await c.execute('UPDATE node_items SET blob_col = ? WHERE id = 1', [blob]);
  const [[b]] = await c.query('SELECT blob_col FROM node_items WHERE id = 1');
  check(Buffer.compare(b.blob_col, blob) === 0, 'a 20 MB value round trip');
  results.large_packet_bytes = b.blob_col.length;

  // Transactions.
  await c.beginTransaction();
  await c.query("INSERT INTO node_items (id, name) VALUES (1000, 'rolled back')");
  await c.rollback();
  await c.beginTransaction();
  await c.query("INSERT INTO node_items (id, name) VALUES (1001, 'committed')");
  await c.commit();
  const [[cnt]] = await c.query('SELECT COUNT(*) AS n FROM node_items WHERE id >= 1000');
  check(cnt.n === 1, 'rollback and commit');
  results.transactions = true;

  // Errors arrive with their codes, and the session goes on.
  await expectError(c.query('SELECT * FROM no_such_table'), 1146, 'missing table');
  await expectError(c.query("INSERT INTO node_items (id, name) VALUES (1, 'dup')"), 1062, 'duplicate key');
  await expectError(c.query('SELEC 1'), 1064, 'syntax error');
  const fk = await expectError(
      c.query('CREATE TABLE node_child (id INT PRIMARY KEY, item BIGINT, FOREIGN KEY (item) REFERENCES node_items(id))'),
      1105, 'foreign key refused');
  check(/foreign key constraints are not allowed/.test(fk.message), 'foreign key message');
  await expectError(c.prepare('ALTER TABLE node_items ADD CONSTRAINT f FOREIGN KEY (id) REFERENCES x (id)'), 1105,
                    'foreign key refused in a prepared statement');
  const [[one]] = await c.query('SELECT 1 AS ok');
  check(one.ok === 1, 'session alive after errors');
  results.errors = true;

  // COM_CHANGE_USER to the other password, then COM_PING and COM_RESET_CONNECTION.
  await c.changeUser({ user: cfg.first.username, password: cfg.first.plain_text });
  await c.ping();
  await c.reset?.();
  const [[after]] = await c.query('SELECT COUNT(*) AS n FROM node_items');
  check(after.n === 51, `after change user: ${after.n}`);
  results.change_user = true;
  await c.end();

  // A pool of connections working concurrently.
  const pool = mysql.createPool(options(cfg.first, { ...tls, connectionLimit: 8 }));
  const sums = await Promise.all(Array.from({ length: 64 }, (_, i) =>
    pool.execute('SELECT ? + 1 AS v', [i]).then(([r]) => r[0].v)));
  check(sums.every((v, i) => Number(v) === i + 1), 'pool results');
  await pool.end();
  results.pool_queries = sums.length;

  console.log(JSON.stringify(results));
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
