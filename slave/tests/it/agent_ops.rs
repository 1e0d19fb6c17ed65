//! The agent answering operation requests over a real encrypted session, on both monoio
//! drivers: a minimal master (std sockets plus the sans-io `Session`) enrols the agent,
//! then asks for host operations and a Docker operation. The Docker answer comes from the
//! Docker thread and host answers from worker threads, so this proves the agent's writer is
//! woken from other threads. At protocol version 4 the agent's workload manager reports
//! its observed state on the session and serves the gateway a desired state names.

use protocol::ops::ErrorKind;
use protocol::ops::docker::DockerOp;
use protocol::ops::host::{HostOp, HostReply, ProcessQuery, SignalRequest};
use protocol::{
    JoinToken, Message, Request, RequestBody, ResponseBody, Session, SessionEvent, StaticKeys,
    Welcome,
};
use slave::agent::{AgentOptions, OpsOptions};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

struct Master {
    stream: TcpStream,
    session: Session,
    events: Vec<SessionEvent>,
}

impl Master {
    fn flush(&mut self) {
        let out = self.session.take_output();
        if !out.is_empty() {
            self.stream.write_all(&out).unwrap();
        }
    }

    /// The next message, within 20 s.
    fn next(&mut self) -> Message {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(i) = self
                .events
                .iter()
                .position(|e| matches!(e, SessionEvent::Message(_)))
            {
                let SessionEvent::Message(m) = self.events.remove(i) else {
                    unreachable!()
                };
                return m;
            }
            assert!(Instant::now() < deadline, "no message from the agent");
            let mut buf = [0u8; 65536];
            match self.stream.read(&mut buf) {
                Ok(0) => panic!("the agent closed the session"),
                Ok(n) => self.session.receive(&buf[..n], &mut self.events).unwrap(),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => panic!("read: {e}"),
            }
            self.flush();
        }
    }

    /// Sends a request and returns its final answer.
    fn ask(&mut self, id: u64, body: RequestBody) -> ResponseBody {
        let req = Message::Request(Request {
            id,
            timeout_ms: 15_000,
            body,
        });
        self.session.send(&req).unwrap();
        self.flush();
        loop {
            if let Message::Response(r) = self.next()
                && r.id == id
                && r.body.is_final()
            {
                return r.body;
            }
        }
    }
}

/// Starts an agent enrolling with a fresh minimal master; returns the master's side.
fn start(force_legacy: bool, dir: &Path) -> Master {
    start_at(force_legacy, dir, protocol::OPS_VERSION)
}

/// [`start`] with the session at protocol `version`.
fn start_at(force_legacy: bool, dir: &Path, version: u16) -> Master {
    let keys = StaticKeys::generate().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let token = JoinToken {
        master_addr: listener.local_addr().unwrap().to_string(),
        master_fingerprint: keys.fingerprint(),
        secret: [7; 32],
    };
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    let options = AgentOptions {
        data_dir: dir.join("data"),
        master_addr: None,
        join: Some(token),
        docker_socket: dir.join("no-docker.sock"),
        force_legacy,
        ops: OpsOptions {
            hosts_file: hosts,
            bind_roots: vec![],
        },
        workloads: slave::config::WorkloadsConfig::default(),
    };
    std::thread::spawn(move || slave::agent::run(options));
    let (stream, _) = listener.accept().unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut m = Master {
        stream,
        session: Session::responder(&keys).unwrap(),
        events: Vec::new(),
    };
    match m.next() {
        Message::Hello(h) => assert!(h.max_version >= protocol::OPS_VERSION),
        other => panic!("expected hello, got {}", other.name()),
    }
    // Like the real master: the full message limit once the hello is accepted.
    m.session
        .set_max_message_len(protocol::codec::MAX_MESSAGE_LEN);
    let welcome = Welcome {
        version,
        node_id: 1,
        heartbeat_interval_ms: 60_000,
    };
    m.session.send(&Message::Welcome(welcome)).unwrap();
    m.flush();
    m
}

fn host(op: HostOp) -> RequestBody {
    RequestBody::Host(Box::new(op))
}

fn operations_answer(force_legacy: bool) {
    let dir = tempfile::tempdir().unwrap();
    let mut m = start(force_legacy, dir.path());
    // Distinct per test: both tests run in one process and list each other's children.
    let seconds = if force_legacy { "29.25" } else { "29.75" }.to_string();
    assert_eq!(m.ask(1, RequestBody::Ping), ResponseBody::Pong);
    let ResponseBody::Host(h) = m.ask(2, host(HostOp::GetHosts)) else {
        panic!()
    };
    assert!(matches!(*h, HostReply::Hosts(ref f) if f.entries.len() == 1));
    let new = "127.0.0.1 localhost\n10.9.8.7 db\n".to_string();
    let ResponseBody::Host(h) = m.ask(
        3,
        host(HostOp::PutHosts {
            content: new.clone(),
        }),
    ) else {
        panic!()
    };
    assert!(matches!(*h, HostReply::Hosts(ref f) if f.content == new));
    let ResponseBody::Host(_) = m.ask(4, host(HostOp::RestoreHosts)) else {
        panic!()
    };
    assert_eq!(
        std::fs::read_to_string(dir.path().join("hosts")).unwrap(),
        "127.0.0.1 localhost\n"
    );
    let mut child = std::process::Command::new("sleep")
        .arg(&seconds)
        .spawn()
        .unwrap();
    // Right after spawn the child's command line can still be ours; wait for the exec.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !std::fs::read(format!("/proc/{}/cmdline", child.id()))
        .is_ok_and(|c| c.starts_with(b"sleep\0"))
    {
        assert!(std::time::Instant::now() < deadline, "sleep did not start");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let q = ProcessQuery {
        filter: Some(format!("sleep {seconds}")),
        ..Default::default()
    };
    let ResponseBody::Host(h) = m.ask(5, host(HostOp::ListProcesses(q))) else {
        panic!()
    };
    let HostReply::Processes(page) = *h else {
        panic!()
    };
    assert_eq!(
        page.processes.iter().map(|p| p.pid).collect::<Vec<_>>(),
        vec![child.id()]
    );
    let sig = SignalRequest {
        pid: child.id(),
        signal: 9,
        force: false,
    };
    let ResponseBody::Host(_) = m.ask(6, host(HostOp::Signal(sig))) else {
        panic!()
    };
    assert!(!child.wait().unwrap().success());
    let ResponseBody::Failed(e) = m.ask(7, RequestBody::Docker(Box::new(DockerOp::Info))) else {
        panic!()
    };
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(e.message.contains("no Docker Engine on this slave"), "{e}");
    let ResponseBody::Failed(e) = m.ask(
        8,
        host(HostOp::PutHosts {
            content: "bad".into(),
        }),
    ) else {
        panic!()
    };
    assert_eq!(
        (e.kind, e.field.as_deref()),
        (ErrorKind::InvalidArgument, Some("content"))
    );
    assert_eq!(
        m.ask(9, RequestBody::Cancel { id: 77 }),
        ResponseBody::Cancelled { found: false }
    );
}

#[test]
fn operations_are_answered_on_the_epoll_driver() {
    operations_answer(true);
}

#[test]
fn operations_are_answered_on_the_default_driver() {
    operations_answer(false);
}

/// The next observed state satisfying `pred` (other messages are skipped).
fn observed_until(
    m: &mut Master,
    pred: impl Fn(&protocol::ObservedState) -> bool,
) -> protocol::ObservedState {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "no such observed state");
        if let Message::ObservedState(o) = m.next()
            && pred(&o)
        {
            return o;
        }
    }
}

#[test]
fn desired_state_reaches_the_workload_manager_and_observed_state_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = start_at(false, dir.path(), protocol::version::WORKLOADS_VERSION);
    // Right after connecting, before any desired state.
    let first = observed_until(&mut m, |_| true);
    assert_eq!(first.generation, 0);
    let port = TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let desired = protocol::DesiredState {
        generation: 1,
        replicas: Vec::new(),
        gateways: vec![protocol::workload::GatewaySpec {
            name: "standalone-it".into(),
            port,
            algorithm: protocol::workload::GatewayAlgorithm::RoundRobin,
            upstreams: vec!["127.0.0.1:9".into()],
            allow: Vec::new(),
            deny: Vec::new(),
            max_conns_per_ip: None,
            conn_rate_per_ip: None,
            probe_upstreams: false,
        }],
    };
    m.session
        .send(&Message::DesiredState(desired.clone()))
        .unwrap();
    m.flush();
    let o = observed_until(&mut m, |o| o.generation == 1);
    assert_eq!(o.gateways.len(), 1);
    assert!(o.gateways[0].serving, "{:?}", o.gateways[0]);
    TcpStream::connect(("127.0.0.1", port)).expect("the gateway listens");
    // Kept on disk for the next start.
    assert!(dir.path().join("data/workloads.state").exists());
}
