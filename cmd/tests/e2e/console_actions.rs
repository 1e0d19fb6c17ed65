//! The Docker actions of the console in headless Chromium against a real `commander up`
//! and this machine's Docker Engine, each checked afterwards with the `docker` CLI:
//!
//! - images: import a root file system tarball through the import form and follow its task
//!   to success, tag the image, show its history, remove the new tag after the
//!   confirmation; a clear message on the page (not raw JSON) when the image to remove is
//!   in use and when a pull cannot reach its registry (a closed port on loopback: no
//!   registry is reachable from here); the count of containers using an image; its deploy
//!   link filling the deploy form;
//! - networks and volumes: create one of each (labelled), see it listed, remove it after
//!   the confirmation;
//! - one container: its processes (top), pause, unpause, stop, start, restart, rename, kill
//!   and remove, with the state the page shows;
//! - Records → tasks lists the import (succeeded) and the pull (failed, with its reason).
//!
//! Everything the test creates carries `commander.test=1` (the imported image is named
//! `commander-test/…`) and is removed by a guard when the test ends, also when it fails.
//! Screenshots land in `target/e2e-screenshots/`. Without Chromium, Docker or busybox the
//! test is skipped with a message, a failure under `CI=true`.

use anyhow::Context;
use e2e::browser::{Browser, require_chromium};
use e2e::cluster::console_login;
use e2e::console::{
    BUSYBOX, DockerGuard, TEST_LABEL, WAIT, answer_prompt, click, commander_up, confirm, docker,
    docker_prerequisites, fill, login, report_failure, run_id, shot, text_of, wait_css, wait_error,
    wait_gone, wait_js,
};
use e2e::ops::{free_port, rootfs_tar};
use e2e::webdriver::Session;
use std::path::Path;

const TEST: &str = "console_actions";

/// The names this run gives to what it creates.
struct Names {
    run: String,
    /// Repository of the imported image.
    repo: String,
    /// The imported image, `repo:1`.
    image: String,
    /// The tag made on the page, `repo:copy`.
    copy: String,
    container: String,
    renamed: String,
    network: String,
    volume: String,
}

impl Names {
    fn new(run: &str) -> Self {
        let repo = format!("commander-test/ui-{run}");
        Self {
            run: run.to_owned(),
            image: format!("{repo}:1"),
            copy: format!("{repo}:copy"),
            repo,
            container: format!("cmdr-ui-{run}"),
            renamed: format!("cmdr-ui-{run}-renamed"),
            network: format!("cmdr-ui-net-{run}"),
            volume: format!("cmdr-ui-vol-{run}"),
        }
    }

    /// The labels of everything made here, as the forms take them.
    fn labels(&self) -> String {
        format!("{TEST_LABEL}\ncommander.test.run={}", self.run)
    }
}

/// What the tasks page should show at the end.
struct Tasks {
    import: String,
    pull: Option<String>,
}

#[test]
fn docker_actions_in_chromium() -> anyhow::Result<()> {
    let Some((chromium, driver)) = require_chromium(TEST)? else {
        return Ok(());
    };
    if !docker_prerequisites(TEST)? {
        return Ok(());
    }
    let n = Names::new(&run_id());
    let _guard = DockerGuard {
        run: n.run.clone(),
        containers: vec![n.container.clone(), n.renamed.clone()],
        images: vec![n.image.clone(), n.copy.clone()],
        networks: vec![n.network.clone()],
        volumes: vec![n.volume.clone()],
    };
    let dir = tempfile::tempdir()?;
    let tar = dir.path().join("rootfs.tar");
    std::fs::write(&tar, rootfs_tar(&std::fs::read(BUSYBOX)?))?;
    let (_up, base, addr) = commander_up(dir.path())?;
    console_login(addr)?;
    let browser = Browser::start(&chromium, &driver, 1366, 1000)?;
    let s = &browser.session;
    let outcome = (|| {
        login(s, &base)?;
        let import = images(s, &base, &n, &tar)?;
        let pull = unreachable_pull(s, &base)?;
        image_in_use(s, &base, &n)?;
        networks_and_volumes(s, &base, &n)?;
        container(s, &base, &n)?;
        remove_image(s, &base, &n)?;
        tasks_page(s, &base, &Tasks { import, pull })
    })();
    if outcome.is_err() {
        report_failure(s, "actions-failure");
    }
    outcome
}

fn image_row(reference: &str) -> String {
    format!("#images tr[data-ref='{reference}']")
}

fn images_page(s: &Session, base: &str) -> anyhow::Result<()> {
    s.goto(&format!("{base}/docker/1/images"))?;
    wait_css(s, "#images tbody tr", "the image list")
}

/// Imports, tags, shows the history, removes the tag. Returns the import's task id.
fn images(s: &Session, base: &str, n: &Names, tar: &Path) -> anyhow::Result<String> {
    images_page(s, base)?;
    let file = s.wait("#import-form input[name=file]", WAIT)?;
    s.send_keys(&file, &tar.display().to_string())?;
    fill(s, "#import-form input[name=repo]", &n.repo)?;
    fill(s, "#import-form input[name=tag]", "1")?;
    click(s, "#import-form button[type=submit]")?;
    wait_js(
        s,
        "document.getElementById('import-progress').getAttribute('data-state') === 'succeeded'",
        "the import task to succeed",
    )?;
    wait_css(
        s,
        &format!("{}[data-used='0']", image_row(&n.image)),
        "the imported image in the list, used by no container",
    )?;
    let bar = s.execute("return document.querySelector('#import-progress progress').value;")?;
    anyhow::ensure!(bar.as_f64() == Some(100.0), "import progress at {bar}");
    let said = text_of(s, "#import-progress .progress-text")?;
    anyhow::ensure!(said.contains(&n.image), "import progress says {said:?}");
    let task = s
        .attr(&s.find("#import-progress")?, "data-task")?
        .context("the import's task id")?;
    let id = docker(&["image", "inspect", "-f", "{{.Id}}", &n.image])?;

    // Tag it: the prompt names the image; the new tag gets its own row.
    click(
        s,
        &format!("{} button[data-action=tag]", image_row(&n.image)),
    )?;
    let asked = answer_prompt(s, &n.copy)?;
    anyhow::ensure!(asked.contains(&n.image), "tag prompt: {asked:?}");
    wait_css(s, &image_row(&n.copy), "the new tag in the list")?;
    let copy = docker(&["image", "inspect", "-f", "{{.Id}}", &n.copy])?;
    anyhow::ensure!(copy == id, "{} is {copy}, not {id}", n.copy);

    // Its history.
    click(
        s,
        &format!("{} button[data-action=history]", image_row(&n.copy)),
    )?;
    wait_js(
        s,
        "!document.getElementById('image-history').hidden && document.querySelectorAll('#image-history tbody tr').length > 0",
        "the image history",
    )?;
    let shown = text_of(s, "#image-history .history-ref")?;
    anyhow::ensure!(shown == n.copy, "history of {shown:?}");
    s.window_size(1366, 1500)?;
    shot(s, "docker-images")?;
    s.window_size(1366, 1000)?;

    // Remove the new tag after the confirmation: only that tag goes.
    click(
        s,
        &format!("{} button[data-action=remove]", image_row(&n.copy)),
    )?;
    confirm(s, &n.copy)?;
    wait_gone(s, &image_row(&n.copy), "the removed tag gone from the list")?;
    anyhow::ensure!(
        docker(&["image", "inspect", &n.copy]).is_err(),
        "{} still exists",
        n.copy
    );
    anyhow::ensure!(
        s.find_all(&image_row(&n.image))?.len() == 1,
        "{} went too",
        n.image
    );
    docker(&["image", "inspect", "-f", "{{.Id}}", &n.image])?;
    Ok(task)
}

/// An error message a person can read: a sentence with the status, no JSON.
fn readable(message: &str, status: u16, mentions: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        !message.contains("{\"") && !message.contains("\"error\""),
        "raw JSON on the page: {message:?}"
    );
    anyhow::ensure!(
        message.contains(&format!("HTTP {status}")) && message.contains(mentions),
        "the page says {message:?}; expected HTTP {status} and {mentions:?}"
    );
    Ok(())
}

/// A pull from a registry that cannot be reached fails with a message on the page.
/// Returns the pull's task id when it became a task.
fn unreachable_pull(s: &Session, base: &str) -> anyhow::Result<Option<String>> {
    images_page(s, base)?;
    let reference = format!("127.0.0.1:{}/commander-test/unreachable:1", free_port()?);
    fill(s, "#pull-form input[name=reference]", &reference)?;
    click(s, "#pull-form button[type=submit]")?;
    let message = wait_error(s, "the failed pull's message")?;
    readable(&message, 502, "connection refused")?;
    let hidden = s.execute("return document.getElementById('pull-progress').hidden;")?;
    anyhow::ensure!(hidden.as_bool() == Some(true), "the progress bar stays");
    shot(s, "docker-pull-error")?;
    anyhow::ensure!(docker(&["image", "inspect", &reference]).is_err());
    s.attr(&s.find("#pull-progress")?, "data-task")
}

/// Removing an image a container uses is refused, and the page says why.
fn image_in_use(s: &Session, base: &str, n: &Names) -> anyhow::Result<()> {
    let run_label = format!("commander.test.run={}", n.run);
    docker(&[
        "run",
        "-d",
        "--name",
        &n.container,
        "--label",
        TEST_LABEL,
        "--label",
        &run_label,
        &n.image,
        "/bin/busybox",
        "sh",
        "-c",
        "trap 'exit 0' TERM; echo started; while true; do sleep 1; done",
    ])?;
    images_page(s, base)?;
    wait_css(
        s,
        &format!("{}[data-used='1']", image_row(&n.image)),
        "the image used by one container",
    )?;
    click(
        s,
        &format!("{} button[data-action=remove]", image_row(&n.image)),
    )?;
    confirm(s, &n.image)?;
    let message = wait_error(s, "the in-use message")?;
    readable(&message, 409, "is using")?;
    shot(s, "docker-image-in-use")?;
    docker(&["image", "inspect", "-f", "{{.Id}}", &n.image]).map(drop)
}

/// Creates a network and a volume from their forms, then removes them.
fn networks_and_volumes(s: &Session, base: &str, n: &Names) -> anyhow::Result<()> {
    for (kind, name) in [("network", &n.network), ("volume", &n.volume)] {
        s.goto(&format!("{base}/docker/1/{kind}s"))?;
        wait_css(s, &format!("#{kind}s tbody tr"), "the list")?;
        fill(s, &format!("#{kind}-form input[name=name]"), name)?;
        fill(
            s,
            &format!("#{kind}-form textarea[name=labels]"),
            &n.labels(),
        )?;
        click(s, &format!("#{kind}-form button[type=submit]"))?;
        let row = format!("#{kind}s tr[data-name='{name}']");
        wait_css(s, &row, "the new one in the list")?;
        let label = docker(&[
            kind,
            "inspect",
            "-f",
            "{{index .Labels \"commander.test\"}}",
            name,
        ])?;
        anyhow::ensure!(label == "1", "{kind} {name} has commander.test={label:?}");
        shot(s, &format!("docker-{kind}s"))?;
        click(s, &format!("{row} button[data-action=remove]"))?;
        confirm(s, name)?;
        wait_gone(s, &row, "the removed one gone from the list")?;
        let left = docker(&[kind, "ls", "-q", "--filter", &format!("name=^{name}$")])?;
        anyhow::ensure!(left.is_empty(), "docker still lists {kind} {name}");
    }
    Ok(())
}

fn wait_state(s: &Session, state: &str) -> anyhow::Result<()> {
    wait_js(
        s,
        &format!(
            "document.getElementById('ops').getAttribute('data-state') === '{state}' && document.getElementById('container-state').textContent === '{state}'"
        ),
        &format!("the container {state}"),
    )
}

fn cli_status(name: &str) -> anyhow::Result<String> {
    docker(&["inspect", "-f", "{{.State.Status}}", name])
}

fn action(s: &Session, name: &str) -> anyhow::Result<()> {
    click(s, &format!("#container-actions button[data-action={name}]"))
}

/// The container page: top, pause, unpause, stop, start, restart, rename, kill, remove.
fn container(s: &Session, base: &str, n: &Names) -> anyhow::Result<()> {
    s.goto(&format!("{base}/docker/1/containers/{}", n.container))?;
    wait_state(s, "running")?;
    wait_js(
        s,
        "document.querySelector('#top tbody').textContent.indexOf('sleep') >= 0",
        "the container's processes (top)",
    )?;
    action(s, "pause")?;
    wait_state(s, "paused")?;
    anyhow::ensure!(cli_status(&n.container)? == "paused");
    action(s, "unpause")?;
    wait_state(s, "running")?;
    anyhow::ensure!(cli_status(&n.container)? == "running");
    action(s, "stop")?;
    confirm(s, &n.container)?;
    wait_state(s, "exited")?;
    anyhow::ensure!(cli_status(&n.container)? == "exited");
    action(s, "start")?;
    wait_state(s, "running")?;
    anyhow::ensure!(cli_status(&n.container)? == "running");

    let started = docker(&["inspect", "-f", "{{.State.StartedAt}}", &n.container])?;
    let shown = page_started(s)?;
    action(s, "restart")?;
    confirm(s, &n.container)?;
    wait_js(
        s,
        &format!(
            "document.getElementById('ops').getAttribute('data-state') === 'running' && document.getElementById('ops').getAttribute('data-started') !== {shown:?}"
        ),
        "the restarted container",
    )?;
    let again = docker(&["inspect", "-f", "{{.State.StartedAt}}", &n.container])?;
    anyhow::ensure!(again != started, "not restarted: started at {again}");

    action(s, "rename")?;
    let asked = answer_prompt(s, &n.renamed)?;
    anyhow::ensure!(asked.contains(&n.container), "rename prompt: {asked:?}");
    wait_js(
        s,
        &format!(
            "location.pathname.endsWith('/{}') && document.getElementById('container-name').textContent === '{}'",
            n.renamed, n.renamed
        ),
        "the renamed container's page",
    )?;
    wait_state(s, "running")?;
    anyhow::ensure!(cli_status(&n.renamed)? == "running");
    anyhow::ensure!(docker(&["inspect", &n.container]).is_err(), "old name left");

    action(s, "kill")?;
    confirm(s, &n.renamed)?;
    wait_state(s, "exited")?;
    anyhow::ensure!(cli_status(&n.renamed)? == "exited");
    s.window_size(1366, 1600)?;
    s.execute("window.scrollTo(0, 0); return true;")?;
    shot(s, "docker-container-killed")?;
    s.window_size(1366, 1000)?;

    action(s, "remove")?;
    confirm(s, &n.renamed)?;
    wait_js(
        s,
        "location.pathname === '/docker/1' && document.querySelector('#containers tbody tr') !== null",
        "the containers page after the removal",
    )?;
    wait_gone(
        s,
        &format!("#containers tr[data-name='{}']", n.renamed),
        "the removed container gone",
    )?;
    let left = docker(&["ps", "-aq", "--filter", &format!("name=^{}$", n.renamed)])?;
    anyhow::ensure!(left.is_empty(), "docker still lists {}", n.renamed);
    Ok(())
}

/// The start time the container page shows now.
fn page_started(s: &Session) -> anyhow::Result<String> {
    Ok(
        s.execute("return document.getElementById('ops').getAttribute('data-started');")?
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// The image's deploy link fills the deploy form; once no container uses it, the image
/// goes.
fn remove_image(s: &Session, base: &str, n: &Names) -> anyhow::Result<()> {
    images_page(s, base)?;
    click(s, &format!("{} a", image_row(&n.image)))?;
    wait_js(
        s,
        &format!(
            "location.pathname === '/docker/1' && document.querySelector('#deploy-form input[name=image]').value === {:?}",
            n.image
        ),
        "the deploy form filled with the image",
    )?;
    images_page(s, base)?;
    wait_css(
        s,
        &format!("{}[data-used='0']", image_row(&n.image)),
        "the image used by no container",
    )?;
    click(
        s,
        &format!("{} button[data-action=remove]", image_row(&n.image)),
    )?;
    confirm(s, &n.image)?;
    wait_gone(s, &image_row(&n.image), "the removed image gone")?;
    anyhow::ensure!(
        docker(&["image", "inspect", &n.image]).is_err(),
        "{} still exists",
        n.image
    );
    Ok(())
}

/// Records → tasks shows the import succeeded and the pull failed with its reason.
fn tasks_page(s: &Session, base: &str, t: &Tasks) -> anyhow::Result<()> {
    s.goto(&format!("{base}/records/tasks"))?;
    // The row of task `id` in `state`, mentioning `mentions`, its progress bar (if any)
    // not the animated "still working" one.
    let row = |id: &str, state: &str, mentions: &str| {
        format!(
            "Array.prototype.some.call(document.querySelectorAll('#tasks tbody tr'), function (r) {{ var bar = r.querySelector('progress'); return r.cells.length > 3 && r.cells[0].textContent.trim() === '{id}' && r.textContent.indexOf('{state}') >= 0 && r.textContent.indexOf({mentions:?}) >= 0 && (!bar || bar.hasAttribute('value')); }})"
        )
    };
    wait_js(
        s,
        &row(&t.import, "succeeded", "import"),
        "the import task, succeeded",
    )?;
    if let Some(pull) = &t.pull {
        wait_js(
            s,
            &row(pull, "failed", "connection refused"),
            "the pull task, failed with its reason",
        )?;
    }
    shot(s, "records-tasks")
}
