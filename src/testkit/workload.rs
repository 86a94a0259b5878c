//! The fixture workload: a scripted, reproducible history written to a harness server with a faked
//! clock, covering every shape of transaction the resolver must handle on MariaDB.
//!
//! Clock: every session sets `SET TIMESTAMP` before each statement, so header times are the
//! simulated ones. MariaDB stamps a transaction's GTID and XID events with the COMMIT statement's
//! time and each row event with its own statement's time; events written at rotation carry the
//! rotating session's time. Two kinds of event keep the real clock: the very first file's
//! FORMAT_DESCRIPTION (server start-up) and BINLOG_CHECKPOINT events (a background thread). The
//! script therefore starts by rotating at the simulated base time and purging the first file, and
//! the simulated clock lies after the real one (2030), so real-clock events sort before all data.
//!
//! What the history contains, in order (see [`run_fixture_workload`]): DDL; autocommit INSERT,
//! UPDATE and DELETE, several in one second; multi-statement transactions; a transaction open for
//! minutes while others commit; statements that started early and committed after later ones
//! (header times going backwards); `XA … PREPARE` then `XA COMMIT`, `XA ROLLBACK`, and
//! `XA COMMIT … ONE PHASE`; MyISAM writes alone and inside transactions that are rolled back,
//! wholly or to a savepoint (in ROW and in STATEMENT format);
//! writes in GTID domain 1 from server_id 2 interleaved with domain 0, and in domain 0 from a
//! second server_id just before a rotation; `FLUSH BINARY LOGS`, twice
//! in a row (a file without transactions); a transaction larger than `max_binlog_size`; a
//! few hundred small transactions over several hours that rotate files by size and span the
//! 2030-03-31 01:00 UTC daylight-saving change of the European time zones; and a long statement
//! whose commit rotates the log, dating the new file before transactions other sessions
//! committed into the old one while it ran.

use mysql_async::Conn;
use mysql_async::prelude::*;

use super::mariadb::{BINLOG_BASENAME, MariaDb};

/// Simulated time of the first retained file: 2030-03-30 23:00:00 UTC.
pub const FIXTURE_BASE_TIME: i64 = 1_901_142_000;

/// `max_binlog_size` the fixture server runs with: small, so the history spans many files.
pub const FIXTURE_MAX_BINLOG_SIZE: u64 = 32 * 1024;

/// One client session with its own simulated clock.
pub struct Session {
    conn: Conn,
}

impl Session {
    pub async fn open(server: &MariaDb) -> mysql_async::Result<Session> {
        Ok(Session {
            conn: server.connect().await?,
        })
    }

    /// Sets this session's clock to `FIXTURE_BASE_TIME + offset` seconds.
    pub async fn at(&mut self, offset: i64) -> mysql_async::Result<&mut Session> {
        self.conn
            .query_drop(format!("SET TIMESTAMP={}", FIXTURE_BASE_TIME + offset))
            .await?;
        Ok(self)
    }

    /// Runs statements in order at the session's current clock; an error names the statement.
    pub async fn run(&mut self, statements: &[&str]) -> mysql_async::Result<()> {
        for statement in statements {
            self.conn.query_drop(*statement).await.map_err(|e| {
                mysql_async::Error::Other(format!("`{statement}` failed: {e}").into())
            })?;
        }
        Ok(())
    }

    /// `at(offset)` then `run(statements)`.
    pub async fn run_at(&mut self, offset: i64, statements: &[&str]) -> mysql_async::Result<()> {
        self.at(offset).await?;
        self.run(statements).await
    }

    pub async fn close(self) -> mysql_async::Result<()> {
        self.conn.disconnect().await
    }
}

/// Runs the fixture history on `server` (started with
/// `max_binlog_size = FIXTURE_MAX_BINLOG_SIZE`). Afterwards the server's first retained file is
/// `mysql-bin.000002`, created at [`FIXTURE_BASE_TIME`], and the newest file is still open.
pub async fn run_fixture_workload(server: &MariaDb) -> mysql_async::Result<()> {
    let mut a = Session::open(server).await?;
    let mut b = Session::open(server).await?;
    let mut c = Session::open(server).await?;
    let mut d = Session::open(server).await?;
    let mut rotations = RotationWatch::open(server).await?;

    // A first file created at the simulated base time; the start-up file (real clock) is purged.
    a.run_at(0, &["FLUSH BINARY LOGS"]).await?;
    purge_to(&mut a, &format!("{BINLOG_BASENAME}.000002")).await?;
    rotations.settle().await?;

    // DDL.
    a.run_at(
        60,
        &[
            "CREATE DATABASE shop",
            "CREATE TABLE shop.orders (id INT PRIMARY KEY, customer VARCHAR(40), \
             amount DECIMAL(10,2), note VARCHAR(255)) ENGINE=InnoDB",
            "CREATE TABLE shop.items (id INT AUTO_INCREMENT PRIMARY KEY, order_id INT, \
             sku VARCHAR(40), qty INT) ENGINE=InnoDB",
            "CREATE TABLE shop.audit (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(255)) \
             ENGINE=MyISAM",
        ],
    )
    .await?;

    // Autocommit INSERT / UPDATE / DELETE, three of them in one second.
    a.run_at(
        120,
        &["INSERT INTO shop.orders VALUES (1, 'ada', 10.00, 'first')"],
    )
    .await?;
    a.run_at(
        121,
        &[
            "INSERT INTO shop.orders VALUES (2, 'bob', 20.00, NULL)",
            "INSERT INTO shop.orders VALUES (3, 'cyd', 30.00, NULL)",
            "INSERT INTO shop.items (order_id, sku, qty) VALUES (1, 'A-1', 2), (2, 'B-2', 1)",
        ],
    )
    .await?;
    a.run_at(
        180,
        &["UPDATE shop.orders SET amount = amount + 1 WHERE id <= 2"],
    )
    .await?;
    a.run_at(240, &["DELETE FROM shop.orders WHERE id = 3"])
        .await?;

    // A multi-statement transaction whose statements run at different times.
    a.run_at(
        300,
        &[
            "BEGIN",
            "INSERT INTO shop.orders VALUES (4, 'dee', 40.00, NULL)",
        ],
    )
    .await?;
    a.run_at(
        305,
        &["INSERT INTO shop.items (order_id, sku, qty) VALUES (4, 'D-4', 3)"],
    )
    .await?;
    a.run_at(310, &["COMMIT"]).await?;

    // A long transaction: begins at +400, commits at +500 while b commits in between.
    a.run_at(
        400,
        &[
            "BEGIN",
            "INSERT INTO shop.orders VALUES (5, 'eve', 50.00, 'long')",
        ],
    )
    .await?;
    for (i, offset) in [420, 430, 440].into_iter().enumerate() {
        let id = 100 + i;
        b.run_at(
            offset,
            &[&format!(
                "INSERT INTO shop.orders VALUES ({id}, 'bee', 1.00, 'during long trx')"
            )],
        )
        .await?;
    }
    a.run_at(
        450,
        &["UPDATE shop.orders SET note = 'long, updated' WHERE id = 5"],
    )
    .await?;
    a.run_at(500, &["COMMIT"]).await?;

    // Statements that started early and committed after later ones: c's clock stays at +520
    // while b commits at +530 and +540, so c's units carry earlier times than their predecessors.
    c.at(520).await?;
    b.run_at(
        530,
        &["INSERT INTO shop.orders VALUES (110, 'bee', 2.00, NULL)"],
    )
    .await?;
    b.run_at(
        540,
        &["INSERT INTO shop.orders VALUES (111, 'bee', 3.00, NULL)"],
    )
    .await?;
    c.run(&[
        "INSERT INTO shop.orders SELECT id + 1000, customer, amount, 'copied' \
             FROM shop.orders WHERE id < 100",
    ])
    .await?;
    c.run_at(
        525,
        &["ALTER TABLE shop.items ADD COLUMN price DECIMAL(10,2) DEFAULT 0"],
    )
    .await?;

    // More DDL.
    a.run_at(
        600,
        &["ALTER TABLE shop.orders ADD COLUMN status VARCHAR(16) DEFAULT 'new'"],
    )
    .await?;
    a.run_at(
        610,
        &["CREATE TABLE shop.scratch (k INT PRIMARY KEY) ENGINE=InnoDB"],
    )
    .await?;
    a.run_at(620, &["DROP TABLE shop.scratch"]).await?;

    a.run_at(700, &["FLUSH BINARY LOGS"]).await?;
    rotations.settle().await?;

    // XA: prepare then commit, prepare then rollback, and one-phase commit.
    a.run_at(
        760,
        &[
            "XA START 'xa1'",
            "INSERT INTO shop.orders (id, customer, amount) VALUES (20, 'xa', 1.00)",
            "XA END 'xa1'",
        ],
    )
    .await?;
    a.run_at(770, &["XA PREPARE 'xa1'"]).await?;
    a.run_at(800, &["XA COMMIT 'xa1'"]).await?;
    a.run_at(
        810,
        &[
            "XA START 'xa2'",
            "INSERT INTO shop.orders (id, customer, amount) VALUES (21, 'xa', 2.00)",
            "XA END 'xa2'",
        ],
    )
    .await?;
    a.run_at(815, &["XA PREPARE 'xa2'"]).await?;
    a.run_at(830, &["XA ROLLBACK 'xa2'"]).await?;
    a.run_at(
        840,
        &[
            "XA START 'xa3'",
            "INSERT INTO shop.orders (id, customer, amount) VALUES (22, 'xa', 3.00)",
            "XA END 'xa3'",
        ],
    )
    .await?;
    a.run_at(845, &["XA COMMIT 'xa3' ONE PHASE"]).await?;

    // MyISAM: an autocommit write, and one inside a transaction that is rolled back (in ROW
    // format the server logs the MyISAM row as a group of its own, ended by COMMIT).
    a.run_at(
        900,
        &["INSERT INTO shop.audit (what) VALUES ('myisam autocommit')"],
    )
    .await?;
    a.run_at(
        905,
        &[
            "BEGIN",
            "INSERT INTO shop.orders (id, customer, amount) VALUES (30, 'rb', 1.00)",
            "INSERT INTO shop.audit (what) VALUES ('myisam inside a rolled-back trx')",
        ],
    )
    .await?;
    a.run_at(908, &["ROLLBACK"]).await?;
    // In STATEMENT format the same transaction is logged whole and ends in a ROLLBACK query (with
    // an INTVAR for the MyISAM auto-increment); a ROLLBACK TO SAVEPOINT over a MyISAM write is
    // logged inside a transaction that then commits.
    a.run(&["SET SESSION binlog_format = 'STATEMENT'"]).await?;
    a.run_at(
        910,
        &[
            "BEGIN",
            "INSERT INTO shop.orders (id, customer, amount) VALUES (32, 'rb', 1.00)",
            "INSERT INTO shop.audit (what) VALUES ('statement-based, rolled back')",
        ],
    )
    .await?;
    a.run_at(915, &["ROLLBACK"]).await?;
    a.run_at(
        925,
        &[
            "BEGIN",
            "INSERT INTO shop.orders (id, customer, amount) VALUES (33, 'sp', 1.00)",
            "SAVEPOINT sp1",
            "INSERT INTO shop.audit (what) VALUES ('after the savepoint')",
            "ROLLBACK TO SAVEPOINT sp1",
        ],
    )
    .await?;
    a.run_at(930, &["COMMIT"]).await?;
    a.run(&["SET SESSION binlog_format = 'ROW'"]).await?;
    // An InnoDB-only rollback writes nothing.
    a.run_at(
        920,
        &[
            "BEGIN",
            "INSERT INTO shop.orders (id, customer, amount) VALUES (31, 'rb', 1.00)",
            "ROLLBACK",
        ],
    )
    .await?;

    // A second GTID domain from another server_id, interleaved with domain 0.
    d.run(&[
        "SET SESSION gtid_domain_id = 1",
        "SET SESSION server_id = 2",
    ])
    .await?;
    d.run_at(
        1000,
        &["INSERT INTO shop.orders (id, customer, amount) VALUES (40, 'dom1', 1.00)"],
    )
    .await?;
    a.run_at(
        1005,
        &["INSERT INTO shop.orders (id, customer, amount) VALUES (41, 'dom0', 1.00)"],
    )
    .await?;
    d.run_at(
        1010,
        &[
            "BEGIN",
            "INSERT INTO shop.orders (id, customer, amount) VALUES (42, 'dom1', 2.00)",
            "UPDATE shop.orders SET amount = 3.00 WHERE id = 40",
            "COMMIT",
        ],
    )
    .await?;

    // Domain 0 from another server_id just before a rotation: the next files' GTID_LIST holds
    // two entries for domain 0, and which one is the domain's last matters.
    let mut e = Session::open(server).await?;
    e.run(&["SET SESSION server_id = 3"]).await?;
    e.run_at(
        1020,
        &["INSERT INTO shop.orders (id, customer, amount) VALUES (43, 'srv3', 1.00)"],
    )
    .await?;
    e.close().await?;

    // Two rotations in a row: the file between them holds no transaction.
    a.run_at(1100, &["FLUSH BINARY LOGS"]).await?;
    rotations.settle().await?;
    a.run_at(1101, &["FLUSH BINARY LOGS"]).await?;
    rotations.settle().await?;

    // A transaction bigger than max_binlog_size: the rotation waits for its commit.
    a.run_at(1200, &["BEGIN"]).await?;
    for chunk in 0..6 {
        a.run(&[&format!(
            "INSERT INTO shop.items (order_id, sku, qty) SELECT {chunk}, REPEAT('s', 40), seq \
             FROM shop.seq_1_to_200"
        )])
        .await?;
    }
    a.run_at(1260, &["COMMIT"]).await?;
    rotations.settle().await?;

    // Several hours of small transactions (every 37 s, crossing 2030-03-31 01:00 UTC), some in
    // domain 1, some multi-statement: these rotate files by size.
    for i in 0..330_i64 {
        let offset = 1300 + i * 37;
        let id = 10_000 + i;
        if i % 7 == 3 {
            d.run_at(
                offset,
                &[&format!(
                    "INSERT INTO shop.orders (id, customer, amount, note) VALUES \
                     ({id}, 'dom1', {i}.25, REPEAT('d', 120))"
                )],
            )
            .await?;
        } else if i % 5 == 0 {
            a.run_at(offset, &["BEGIN"]).await?;
            a.run(&[
                &format!(
                    "INSERT INTO shop.orders (id, customer, amount, note) VALUES \
                     ({id}, 'many', {i}.50, REPEAT('m', 120))"
                ),
                &format!("INSERT INTO shop.items (order_id, sku, qty) VALUES ({id}, 'M', {i})"),
            ])
            .await?;
            a.run_at(offset + 2, &["COMMIT"]).await?;
        } else {
            a.run_at(
                offset,
                &[&format!(
                    "INSERT INTO shop.orders (id, customer, amount, note) VALUES \
                     ({id}, 'one', {i}.75, REPEAT('o', 120))"
                )],
            )
            .await?;
        }
        rotations.settle().await?;
    }

    // A long autocommit statement rotates the log when it commits (its row images exceed
    // max_binlog_size): the new file's FDE and this file's ROTATE carry the statement's *start*
    // time, while transactions that other sessions committed meanwhile, later by the clock, sit
    // in this file before it (SEMANTICS.md §6). The statement really sleeps first, so that they
    // commit while it runs.
    let last = 1300 + 330 * 37;
    let long_start = last + 20;
    a.at(long_start).await?;
    let long = a.run(&[
        "INSERT INTO shop.items (order_id, sku, qty) SELECT 77, REPEAT('L', 40), s.seq \
         FROM shop.seq_1_to_1200 s JOIN (SELECT SLEEP(2) AS z) x ON x.z = 0",
    ]);
    let meanwhile = async {
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        b.run_at(
            long_start + 5,
            &[
                "INSERT INTO shop.orders (id, customer, amount, note) VALUES \
               (20001, 'meanwhile', 1.00, 'committed during the long statement')",
            ],
        )
        .await?;
        c.run_at(long_start + 9, &["BEGIN"]).await?;
        c.run(&[
            "INSERT INTO shop.orders (id, customer, amount, note) VALUES \
                 (20002, 'meanwhile', 2.00, 'a transaction during it')",
        ])
        .await?;
        c.run_at(long_start + 11, &["COMMIT"]).await
    };
    let (long, meanwhile) = futures_util::future::join(long, meanwhile).await;
    long?;
    meanwhile?;
    rotations.settle().await?;

    // The newest file stays open, as on a live server.
    a.run_at(
        last + 60,
        &["UPDATE shop.orders SET status = 'done' WHERE id < 10"],
    )
    .await?;

    for session in [a, b, c, d] {
        session.close().await?;
    }
    rotations.close().await
}

/// Makes rotations deterministic. After a rotation the server writes a BINLOG_CHECKPOINT event
/// into the new file from a background thread, once the older file's transactions are durable;
/// left alone, that event lands between whichever transactions are being written then, and unit
/// positions change from run to run. [`RotationWatch::settle`] waits for it after every rotation.
struct RotationWatch {
    conn: Conn,
    settled: String,
}

impl RotationWatch {
    async fn open(server: &MariaDb) -> mysql_async::Result<RotationWatch> {
        Ok(RotationWatch {
            conn: server.connect().await?,
            settled: String::new(),
        })
    }

    /// Returns once the newest file holds the checkpoint that names it.
    async fn settle(&mut self) -> mysql_async::Result<()> {
        let status: Option<mysql_async::Row> = self.conn.query_first("SHOW MASTER STATUS").await?;
        let Some(newest) = status.and_then(|row| row.get::<String, _>(0)) else {
            return Ok(());
        };
        if newest == self.settled {
            return Ok(());
        }
        for _ in 0..400 {
            // SHOW BINLOG EVENTS columns: Log_name, Pos, Event_type, Server_id, End_log_pos, Info.
            let events: Vec<(String, u64, String, u32, u64, String)> = self
                .conn
                .query(format!("SHOW BINLOG EVENTS IN '{newest}'"))
                .await?;
            if events
                .iter()
                .any(|e| e.2 == "Binlog_checkpoint" && e.5.trim() == newest)
            {
                self.settled = newest;
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        Err(mysql_async::Error::Other(
            format!("no BINLOG_CHECKPOINT naming {newest} appeared in it").into(),
        ))
    }

    async fn close(self) -> mysql_async::Result<()> {
        self.conn.disconnect().await
    }
}

/// `PURGE BINARY LOGS TO`, retried until the server has released the older files (it keeps a
/// file until its BINLOG_CHECKPOINT is written).
async fn purge_to(session: &mut Session, file: &str) -> mysql_async::Result<()> {
    for _ in 0..200 {
        session
            .run(&[&format!("PURGE BINARY LOGS TO '{file}'")])
            .await?;
        let logs: Vec<(String, u64)> = session.conn.query("SHOW BINARY LOGS").await?;
        if logs.first().is_some_and(|(name, _)| name == file) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    Err(mysql_async::Error::Other(
        format!("the server kept files older than {file} after PURGE BINARY LOGS").into(),
    ))
}
