//! A token is timed when its bytes arrived, not when the client got to them: the native
//! transport reads the kernel's receive stamp of each read (`loadtest_net`), so a client whose
//! event loop was held while the token arrived still measures the server's TTFT. hyper's
//! frames carry no stamp: there the hold is in the TTFT. A read's stamp is the one of the last
//! packet it took, so two tokens that waited in the socket together both get the later one's
//! and neither counts as kernel-timed. The record says how each token event was timed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use loadtest_client::{
    Client, ClientConfig, Endpoint, HttpTransport, NoGapSink, Prompt, StreamRequest,
};
use loadtest_run::Status;

mod common;
use common::{FINISH, ROLE, TOKEN};

/// When the server writes the token, after it read the request.
const TOKEN_AFTER: Duration = Duration::from_millis(100);
/// The client's runtime is held from `HOLD_FROM` after the request to `HOLD_FROM + HOLD`:
/// across the token's arrival.
const HOLD_FROM: Duration = Duration::from_millis(50);
const HOLD: Duration = Duration::from_millis(120);
/// With a second token: written this long after the first, while the runtime is still held.
const SECOND_AFTER: Duration = Duration::from_millis(30);

/// A server on its own thread (the client's runtime is held, the server must not be): each
/// request gets the head and the role chunk at once, one token [`TOKEN_AFTER`] later (the
/// moment it was written goes to `sent`), with `second_token` another one [`SECOND_AFTER`]
/// after it, then after the hold a finish token and `[DONE]`.
fn server(sent: mpsc::Sender<Instant>, second_token: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    // The kernel turns stamping on in deferred work when the first socket asks: asked here,
    // long before the first token arrives.
    loadtest_net::enable(std::os::fd::AsFd::as_fd(&listener)).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            stream.set_nodelay(true).unwrap();
            let sent = sent.clone();
            std::thread::spawn(move || serve(&mut stream, &sent, second_token));
        }
    });
    url
}

fn serve(stream: &mut std::net::TcpStream, sent: &mpsc::Sender<Instant>, second_token: bool) {
    let mut buf = Vec::new();
    loop {
        let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .map_or(0, |v| v.trim().parse().unwrap());
        while buf.len() < head_end + 4 + len {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_end + 4 + len);
        let read_at = Instant::now();
        let chunk = |event: &str| {
            let event = format!("{event}\n\n");
            format!("{:x}\r\n{event}\r\n", event.len()).into_bytes()
        };
        let mut head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
        head.extend_from_slice(&chunk(ROLE));
        if stream.write_all(&head).is_err() {
            return;
        }
        std::thread::sleep(TOKEN_AFTER.saturating_sub(read_at.elapsed()));
        if stream.write_all(&chunk(TOKEN)).is_err() {
            return;
        }
        sent.send(Instant::now()).unwrap();
        if second_token {
            // Still inside the hold: it waits in the socket with the first.
            std::thread::sleep(SECOND_AFTER);
            if stream.write_all(&chunk(TOKEN)).is_err() {
                return;
            }
        }
        // After the hold: a read's stamp is the kernel's stamp of the last data it took, so
        // the rest must not be waiting in the socket with the token.
        std::thread::sleep(HOLD);
        let mut tail = chunk(FINISH);
        tail.extend_from_slice(&chunk("data: [DONE]"));
        tail.extend_from_slice(b"0\r\n\r\n");
        if stream.write_all(&tail).is_err() {
            return;
        }
    }
}

fn client(url: &str, transport: HttpTransport) -> Arc<Client> {
    let mut config = ClientConfig::new(url);
    config.request_timeout = Duration::from_secs(5);
    config.transport = transport;
    Arc::new(Client::new(&config).unwrap())
}

/// One request whose token arrives while the runtime's only thread is held; returns how far
/// after the token was written the record says it arrived, and the record.
async fn held_request(
    client: &Arc<Client>,
    sent: &mpsc::Receiver<Instant>,
) -> (Duration, loadtest_client::RequestRecord) {
    let c = Arc::clone(client);
    let request = StreamRequest::new(Endpoint::Chat, Arc::from("m"), Prompt::text("hi")).unwrap();
    let task = tokio::spawn(async move { c.stream(&request, &mut NoGapSink).await });
    tokio::time::sleep(HOLD_FROM).await;
    // Holds the current-thread runtime: the token arrives in the socket meanwhile.
    std::thread::sleep(HOLD);
    let record = task.await.unwrap();
    assert_eq!(record.status, Status::Ok, "{record:?}");
    let written = sent.recv_timeout(Duration::from_secs(5)).unwrap();
    let first_token = record.start + record.ttft.expect("a first token");
    let late = first_token.saturating_duration_since(written);
    assert!(
        first_token + Duration::from_millis(1) >= written,
        "the token was timed {:?} before it was written",
        written - first_token
    );
    (late, record)
}

/// `events` token events, `kernel` of them timed by their own kernel stamp.
fn assert_stamps(record: &loadtest_client::RequestRecord, events: u64, kernel: u64) {
    assert_eq!(record.token_events, events, "{record:?}");
    assert_eq!(
        (record.stamps.events, record.stamps.kernel),
        (events, kernel),
        "{:?}",
        record.stamps
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_token_is_timed_when_it_arrived_not_when_the_client_got_to_it() {
    let (tx, sent) = mpsc::channel();
    let url = server(tx, false);

    let native = client(&url, HttpTransport::Native);
    let (late, record) = held_request(&native, &sent).await;
    assert!(
        late < Duration::from_millis(10),
        "native: the token was timed {late:?} after it was written ({record:?})"
    );
    // The token, then the finish token with [DONE]: each alone in a read the kernel stamped.
    assert_stamps(&record, 2, 2);

    let hyper = client(&url, HttpTransport::Hyper);
    let (late, record) = held_request(&hyper, &sent).await;
    // Read only after the hold (it ends ≈ 70 ms after the token was written).
    assert!(
        late >= Duration::from_millis(40),
        "hyper: the token was timed {late:?} after it was written: the hold should be in it"
    );
    assert_stamps(&record, 2, 0);
}

/// Two tokens 30 ms apart wait in the socket together: the read's stamp is the second's, so
/// the first is timed 30 ms late, and neither counts as timed by its own stamp.
#[tokio::test(flavor = "current_thread")]
async fn tokens_that_waited_together_share_the_later_stamp_and_are_not_counted_as_kernel_timed() {
    let (tx, sent) = mpsc::channel();
    let url = server(tx, true);
    let native = client(&url, HttpTransport::Native);
    let (late, record) = held_request(&native, &sent).await;
    assert!(
        late >= SECOND_AFTER - Duration::from_millis(5)
            && late < SECOND_AFTER + Duration::from_millis(20),
        "the first token was timed {late:?} after it was written ({record:?})"
    );
    assert_stamps(&record, 3, 1);
}
