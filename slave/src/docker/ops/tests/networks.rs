//! Networks and volumes: create, conflicts, list, remove and not found.

#![allow(clippy::unwrap_used)]

use super::{engine, run};
use protocol::ops::ErrorKind;
use protocol::ops::docker::*;
use protocol::ops::docker_reply::DockerReply;

#[test]
fn networks_and_volumes() {
    let rt = engine();
    let net = NetworkCreate {
        name: "backend".into(),
        internal: true,
        ..Default::default()
    };
    let DockerReply::NetworkCreated { id } = run(&rt, DockerOp::CreateNetwork(net.clone())).reply()
    else {
        panic!()
    };
    assert_eq!(
        run(&rt, DockerOp::CreateNetwork(net)).err().kind,
        ErrorKind::Conflict
    );
    let DockerReply::Networks(n) = run(&rt, DockerOp::ListNetworks).reply() else {
        panic!()
    };
    assert!(n[0].internal);
    assert_eq!(
        run(&rt, DockerOp::RemoveNetwork { id }).reply(),
        DockerReply::Done
    );
    assert_eq!(
        run(
            &rt,
            DockerOp::RemoveNetwork {
                id: "backend".into()
            }
        )
        .err()
        .kind,
        ErrorKind::NotFound
    );
    let vol = VolumeCreate {
        name: "data".into(),
        ..Default::default()
    };
    let DockerReply::VolumeCreated { name } = run(&rt, DockerOp::CreateVolume(vol)).reply() else {
        panic!()
    };
    let DockerReply::Volumes(v) = run(&rt, DockerOp::ListVolumes).reply() else {
        panic!()
    };
    assert_eq!(v[0].name, name);
    assert_eq!(
        run(
            &rt,
            DockerOp::RemoveVolume {
                name: name.clone(),
                force: false
            }
        )
        .reply(),
        DockerReply::Done
    );
    assert_eq!(
        run(&rt, DockerOp::RemoveVolume { name, force: false })
            .err()
            .kind,
        ErrorKind::NotFound
    );
}
