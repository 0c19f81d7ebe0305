//! Two rustls connections joined in memory. The bytes one side writes reach the other in pieces of
//! deliberately awkward sizes (1 byte, part of a header, a header and a few bytes, exactly one full record,
//! several records and a fraction), so every record arrives split at every kind of boundary.

use std::io::{ErrorKind, Read, Write};

use rustls::Connection;

/// Piece sizes, cycled. 16 406 is a full TLS 1.3 record of 2^14 plaintext bytes (5 + 16 384 + 1 + 16); TLS
/// 1.2 records of the same plaintext are 16 413 bytes, so they straddle these pieces differently.
const PIECES: [usize; 10] = [1, 3, 5, 7, 700, 16_406, 16_413, 4096, 40_000, 123_457];

#[derive(Default)]
pub struct Pump {
    next: usize,
}

impl Pump {
    fn piece(&mut self) -> usize {
        self.next += 1;
        PIECES[self.next % PIECES.len()]
    }

    /// Moves everything `from` has to send into `to`, piece by piece, collecting the plaintext `to`
    /// receives into `received`. Returns the number of TLS bytes moved.
    pub fn transfer(&mut self, from: &mut Connection, to: &mut Connection, received: &mut Vec<u8>) -> usize {
        let mut wire = Vec::new();
        while from.wants_write() {
            from.write_tls(&mut wire).unwrap();
        }
        let mut rest = wire.as_slice();
        while !rest.is_empty() {
            let (mut piece, tail) = rest.split_at(self.piece().min(rest.len()));
            rest = tail;
            while !piece.is_empty() {
                to.read_tls(&mut piece).unwrap();
                to.process_new_packets().unwrap_or_else(|e| panic!("peer rejected the records: {e}"));
                drain(to, received);
            }
        }
        wire.len()
    }

    /// Runs the handshake to completion in both directions.
    pub fn handshake(&mut self, client: &mut Connection, server: &mut Connection) {
        let mut sink = Vec::new();
        for _ in 0..10 {
            if !client.is_handshaking() && !server.is_handshaking() && !client.wants_write() && !server.wants_write() {
                assert!(sink.is_empty(), "application data before the handshake ended");
                return;
            }
            self.transfer(client, server, &mut sink);
            self.transfer(server, client, &mut sink);
        }
        panic!("handshake did not finish in 10 round trips");
    }

    /// Sends `body` from `from` to `to` through rustls' writer, as much as its buffer takes at a time, and
    /// returns what `to` received.
    pub fn send(&mut self, from: &mut Connection, to: &mut Connection, body: &[u8]) -> Vec<u8> {
        let mut received = Vec::with_capacity(body.len());
        let mut sent = 0;
        while sent < body.len() {
            let n = from.writer().write(&body[sent..]).unwrap();
            sent += n;
            self.transfer(from, to, &mut received);
        }
        received
    }

    /// Sends close_notify from `from` and checks that `to` sees a clean end of stream.
    pub fn close(&mut self, from: &mut Connection, to: &mut Connection) {
        from.send_close_notify();
        let mut rest = Vec::new();
        self.transfer(from, to, &mut rest);
        assert!(rest.is_empty(), "data after close_notify");
        let mut buf = [0u8; 1];
        assert_eq!(to.reader().read(&mut buf).unwrap(), 0, "close_notify was not seen as a clean end of stream");
    }
}

/// Reads all plaintext `conn` has ready.
fn drain(conn: &mut Connection, into: &mut Vec<u8>) {
    let mut buf = [0u8; 32 * 1024];
    loop {
        match conn.reader().read(&mut buf) {
            Ok(0) => return,
            Ok(n) => into.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) => panic!("reading plaintext: {e}"),
        }
    }
}
