//! A bare HTTP/1.1 client over TCP, for what an ordinary client cannot do: send the headers and
//! hold the body back (or send it slowly), keep reading the answer while the body is still being
//! written (a server may answer before the body ends), and tell apart every way a request can
//! end without an answer. One request per connection (`Connection: close`).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// The status line and headers of an answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How a request ended without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Failure {
    /// The TCP connection could not be made.
    Connect,
    /// The server reset the connection before a whole answer head arrived.
    Reset,
    /// The server closed the connection before a whole answer head arrived.
    Closed,
    /// No answer within the time allowed.
    TimedOut,
    /// Bytes arrived that are not an HTTP/1.1 answer head.
    Garbled,
}

/// The head of `POST path` with `headers` (Host and `Connection: close` added).
pub fn post_head(addr: SocketAddr, path: &str, headers: &[(&str, String)]) -> Vec<u8> {
    let mut head = format!("POST {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// How the body goes out.
#[derive(Debug, Clone)]
pub enum Framing {
    /// As is (the head carries a `Content-Length`).
    Plain,
    /// In `Transfer-Encoding: chunked` frames (the head says so), one per piece, then the end.
    Chunked,
}

/// One open connection whose request head has been sent.
pub struct Conn {
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
}

impl Conn {
    pub async fn open(addr: SocketAddr, head: &[u8]) -> Result<Self, Failure> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|_| Failure::Connect)?;
        let (reader, mut writer) = stream.into_split();
        writer.write_all(head).await.map_err(|_| Failure::Reset)?;
        Ok(Self { reader, writer })
    }

    /// Writes part of the body now.
    pub async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(bytes).await
    }

    /// Waits (at most `within`) for the answer head, writing nothing more.
    pub async fn answer(&mut self, within: Duration) -> Result<Answer, Failure> {
        read_answer(&mut self.reader, within).await
    }

    /// Writes `piece` `times` times (framed by `framing`) in the background while waiting (at
    /// most `within`) for the answer head; the server may answer before the body ends.
    pub async fn stream(
        self,
        piece: Bytes,
        times: usize,
        framing: Framing,
        within: Duration,
    ) -> Result<Answer, Failure> {
        let Conn {
            mut reader,
            mut writer,
        } = self;
        let sender = tokio::spawn(async move {
            let frame_head = format!("{:x}\r\n", piece.len());
            for _ in 0..times {
                if let Framing::Chunked = framing {
                    writer.write_all(frame_head.as_bytes()).await?;
                }
                writer.write_all(&piece).await?;
                if let Framing::Chunked = framing {
                    writer.write_all(b"\r\n").await?;
                }
            }
            if let Framing::Chunked = framing {
                writer.write_all(b"0\r\n\r\n").await?;
            }
            // Keep the write half open until the answer is read.
            std::future::pending::<()>().await;
            Ok::<_, std::io::Error>(())
        });
        let answer = read_answer(&mut reader, within).await;
        sender.abort();
        answer
    }
}

async fn read_answer(reader: &mut OwnedReadHalf, within: Duration) -> Result<Answer, Failure> {
    let read = async {
        let mut buf = Vec::with_capacity(1024);
        let mut chunk = [0u8; 1024];
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                return parse_head(&buf[..end]);
            }
            match reader.read(&mut chunk).await {
                Ok(0) => return Err(Failure::Closed),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    return Err(Failure::Reset);
                }
                Err(_) => return Err(Failure::Closed),
            }
        }
    };
    tokio::time::timeout(within, read)
        .await
        .map_err(|_| Failure::TimedOut)?
}

fn parse_head(head: &[u8]) -> Result<Answer, Failure> {
    let text = std::str::from_utf8(head).map_err(|_| Failure::Garbled)?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().ok_or(Failure::Garbled)?;
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or(Failure::Garbled)?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok(Answer { status, headers })
}
