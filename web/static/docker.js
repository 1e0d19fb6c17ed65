// Docker pages of one slave: engine and containers with the deploy form (/docker/{node}),
// images with pull and import, networks, volumes, and one container with its actions,
// logs, processes and live statistics. Everything goes through the operations API under
// /api/v1/nodes/{node}/docker/ (helpers in ops-common.js).
"use strict";

(function () {
  var O = window.Ops;
  if (!O) return;
  var L = O.L, el = O.el, td = O.td, tr = O.tr, api = O.api;
  var node = O.root.getAttribute("data-node");
  var page = O.root.getAttribute("data-page");
  var D = function (rest) { return O.nodePath("/docker" + rest); };
  var enc = encodeURIComponent;

  function shortId(id) { return String(id || "").replace(/^sha256:/, "").slice(0, 12); }
  function containerName(c) { return (c.names && c.names[0]) || c.name || shortId(c.id); }
  function containerHref(name) { return "/docker/" + enc(node) + "/containers/" + enc(name); }
  function ports(list) {
    return (list || []).map(function (p) {
      return (p.host_port ? (p.host_ip && p.host_ip !== "0.0.0.0" ? p.host_ip + ":" : "") + p.host_port + "→" : "") +
        p.container_port + "/" + p.proto;
    }).join(", ");
  }
  function stateBadge(state) { return el("span", "badge state-" + (state || "unknown"), state || "?"); }
  function labelsText(labels) {
    return Object.keys(labels || {}).map(function (k) { return k + "=" + labels[k]; }).join("\n");
  }
  // KEY=VALUE lines of a textarea as an object (a line without "=" is a key with "").
  function parseLabels(text) {
    var labels = {};
    O.lines(text).forEach(function (l) {
      var i = l.indexOf("=");
      labels[i < 0 ? l : l.slice(0, i)] = i < 0 ? "" : l.slice(i + 1);
    });
    return labels;
  }
  // A small button that says which action it is (data-action), for people and tests.
  function actionButton(action, text, cls, onClick) {
    var b = O.button(text, cls, onClick);
    b.setAttribute("data-action", action);
    return b;
  }

  var CONFIRM = { stop: "confirm_stop", restart: "confirm_restart", kill: "confirm_kill", remove: "confirm_remove" };
  var ACTION_LABEL = { start: "a_start", stop: "a_stop", restart: "a_restart", pause: "a_pause",
    unpause: "a_unpause", kill: "a_kill", remove: "a_remove" };

  // Runs a container action after a confirmation where it destroys something.
  function containerAction(id, name, action, b) {
    if (CONFIRM[action] && !window.confirm(O.fmt(L[CONFIRM[action]], { name: name }))) {
      return Promise.resolve(false);
    }
    var call = action === "remove"
      ? api("DELETE", D("/containers/" + enc(id) + "?force=true"))
      : api("POST", D("/containers/" + enc(id) + "/" + action));
    return O.busy(b, call).then(function () {
      O.notice(O.fmt(L.action_done, { action: L[ACTION_LABEL[action]] || action, name: name }));
      return true;
    });
  }

  // ---- /docker/{node}: engine, containers, deploy ----
  function containersPage() {
    var facts = document.getElementById("engine-facts");
    var engine = function () { return api("GET", D("/info")).then(function (e) {
      O.facts(facts, [
        [L.e_version, e.version], [L.e_api, e.api_version + (e.client_api_version ? " (" + e.client_api_version + ")" : "")],
        [L.e_os, e.os], [L.e_kernel, e.kernel], [L.e_arch, e.arch], [L.e_cpus, String(e.ncpu)],
        [L.e_memory, O.bytes(e.mem_total_bytes)], [L.e_storage, e.storage_driver], [L.e_cgroup, e.cgroup_version],
        [L.e_containers, e.containers + " (" + e.running + " / " + e.paused + " / " + e.stopped + ")"],
        [L.e_images, String(e.images)],
      ]);
    }, function (err) {
      facts.textContent = "";
      facts.appendChild(tr([td(err.status === 503 ? L.no_engine + " " + err.message : err.message, "error-cell")]));
    }); };
    engine();

    var section = document.getElementById("containers");
    var all = document.getElementById("containers-all");
    var list = new O.List(section, {
      text: function (c) { return [containerName(c), c.image, c.state, c.status, c.id].join(" "); },
      render: renderContainer,
      reload: load,
    });
    function load() {
      list.loading();
      return api("GET", D("/containers?all=" + (all.checked ? "true" : "false"))).then(function (rows) {
        list.set(Array.isArray(rows) ? rows : []);
        engine();
      });
    }
    function renderContainer(c) {
      var name = containerName(c);
      var link = el("a", "cname", name);
      link.href = containerHref(name);
      var actions = el("td", "row-actions");
      var running = c.state === "running", paused = c.state === "paused";
      var wanted = running ? ["stop", "restart", "pause"] : paused ? ["unpause", "stop"] : ["start"];
      wanted.concat(["remove"]).forEach(function (a) {
        actions.appendChild(actionButton(a, L[ACTION_LABEL[a]], a === "remove" ? "small danger" : "small", function (b) {
          containerAction(c.id, name, a, b).then(function (did) { if (did) return load(); }).catch(O.showError);
        }));
      });
      var logs = el("a", "small button-link", L.a_logs);
      logs.href = containerHref(name) + "#logs";
      actions.appendChild(logs);
      var row = tr([el("td", "", "", [link, el("div", "hint mono", shortId(c.id))]), td(c.image, "mono"),
        el("td", "", "", [stateBadge(c.state)]), td(c.status), td(ports(c.ports), "mono"),
        td(O.when((c.created_unix || 0) * 1000)), actions]);
      row.setAttribute("data-name", name);
      row.setAttribute("data-state", c.state || "");
      return row;
    }
    all.addEventListener("change", function () { load().catch(O.showError); });
    load().catch(O.showError);
    deployForm(load);
  }

  function deployForm(reload) {
    var form = document.getElementById("deploy-form");
    var box = document.getElementById("deploy-progress");
    var wanted = new URLSearchParams(window.location.search).get("image");
    if (wanted) { form.elements.image.value = wanted; form.elements.name.focus(); }
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var f = form.elements;
      var labels = parseLabels(f.labels.value);
      var body = { image: f.image.value.trim(), cmd: O.lines(f.cmd.value), env: O.lines(f.env.value),
        ports: O.lines(f.ports.value), volumes: O.lines(f.volumes.value), labels: labels, restart: f.restart.value };
      if (f.name.value.trim()) body.name = f.name.value.trim();
      if (f.memory_mib.value) body.memory_bytes = Math.round(Number(f.memory_mib.value) * 1048576);
      if (f.cpus.value) body.nano_cpus = Math.round(Number(f.cpus.value) * 1e9);
      if (f.pull.value !== "missing") body.pull = f.pull.value;
      var b = form.querySelector("button[type=submit]");
      O.clearError();
      O.progress(box, null, L.deploying);
      var run = api("POST", D("/containers"), body).then(function (answer) {
        if (answer && answer.task !== undefined) {
          return O.followTask(answer.href || "/api/v1/tasks/" + answer.task, function (task) {
            O.progress(box, O.taskPercent(task), O.taskText(task));
          }).then(function (task) { return task.result || {}; });
        }
        return answer || {};
      });
      O.busy(b, run).then(function (created) {
        O.progress(box, 100, O.fmt(L.deployed, { id: body.name || shortId(created.id) }));
        O.notice(O.fmt(L.deployed, { id: body.name || shortId(created.id) }));
        return reload();
      }).catch(function (err) { box.hidden = true; O.showError(err); });
    });
  }

  // ---- /docker/{node}/images ----
  function imagesPage() {
    var section = document.getElementById("images");
    var list = new O.List(section, {
      text: function (r) { return r.ref + " " + r.image.id; },
      render: renderImage,
      reload: load,
    });
    // One row per tag, as `docker images` shows them: tagging, removing and deploying act
    // on that tag (removing one tag of several only untags). An untagged image is one row
    // named by its id.
    function rowsOf(images, used) {
      var rows = [];
      images.forEach(function (i) {
        var tags = (i.repo_tags || []).filter(function (t) { return t !== "<none>:<none>"; });
        var n = used && used[i.id] !== undefined ? used[i.id] : used ? 0 : i.containers;
        if (!tags.length) rows.push({ ref: i.id, tagged: false, image: i, used: n });
        tags.forEach(function (t) { rows.push({ ref: t, tagged: true, image: i, used: n }); });
      });
      return rows;
    }
    // The engine's image list does not count the containers using each image (it says
    // -1), so the count comes from the list of all containers; without it, "–".
    function usage() {
      return api("GET", D("/containers?all=true")).then(function (cs) {
        var used = {};
        (Array.isArray(cs) ? cs : []).forEach(function (c) { used[c.image_id] = (used[c.image_id] || 0) + 1; });
        return used;
      }, function () { return null; });
    }
    function load() {
      list.loading();
      return Promise.all([api("GET", D("/images")), usage()]).then(function (got) {
        list.set(rowsOf(Array.isArray(got[0]) ? got[0] : [], got[1]));
      });
    }
    function renderImage(r) {
      var i = r.image, ref = r.ref;
      var actions = el("td", "row-actions");
      var deploy = el("a", "small button-link", L.a_deploy);
      deploy.href = "/docker/" + enc(node) + "?image=" + enc(ref) + "#deploy";
      actions.appendChild(deploy);
      actions.appendChild(actionButton("history", L.history_title, "small", function (b) {
        O.busy(b, api("GET", D("/images/" + enc(ref) + "/history"))).then(function (rows) { history(ref, rows); }).catch(O.showError);
      }));
      actions.appendChild(actionButton("tag", L.a_tag, "small", function (b) {
        var target = window.prompt(O.fmt(L.tag_prompt, { name: ref }), "");
        if (!target) return;
        var at = target.lastIndexOf(":");
        var slash = target.lastIndexOf("/");
        var repo = at > slash ? target.slice(0, at) : target;
        var tag = at > slash ? target.slice(at + 1) : "latest";
        O.busy(b, api("POST", D("/images/" + enc(ref) + "/tag"), { repo: repo, tag: tag }))
          .then(function () { O.notice(L.done); return load(); }).catch(O.showError);
      }));
      actions.appendChild(actionButton("remove", L.a_remove, "small danger", function (b) {
        if (!window.confirm(O.fmt(L.confirm_remove_image, { name: ref }))) return;
        O.clearError();
        O.busy(b, api("DELETE", D("/images/" + enc(ref))))
          .then(function () { O.notice(L.image_removed); return load(); }).catch(O.showError);
      }));
      var row = tr([td(r.tagged ? ref : "<none>", "mono"), td(shortId(i.id), "mono"), td(O.bytes(i.size_bytes), "num"),
        td(O.when((i.created_unix || 0) * 1000)), td(r.used >= 0 ? String(r.used) : "–", "num"), actions]);
      row.setAttribute("data-ref", ref);
      row.setAttribute("data-used", String(r.used));
      return row;
    }
    function history(ref, rows) {
      var box = document.getElementById("image-history");
      box.querySelector(".history-ref").textContent = ref;
      var body = box.querySelector("tbody");
      body.textContent = "";
      (rows || []).forEach(function (h) {
        body.appendChild(tr([td(shortId(h.id), "mono"), td(O.when((h.created_unix || 0) * 1000)),
          td(h.created_by, "mono wrap"), td(O.bytes(h.size_bytes), "num")]));
      });
      box.hidden = false;
      box.scrollIntoView({ block: "nearest" });
    }
    document.querySelector("#image-history .history-close").addEventListener("click", function () {
      document.getElementById("image-history").hidden = true;
    });
    load().catch(O.showError);

    var pull = document.getElementById("pull-form");
    var pullBox = document.getElementById("pull-progress");
    var layers = document.getElementById("pull-layers");
    pull.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var f = pull.elements;
      var body = { reference: f.reference.value.trim() };
      if (f.username.value.trim()) body.auth = { username: f.username.value.trim(), password: f.password.value };
      O.clearError();
      pullBox.removeAttribute("data-state");
      O.progress(pullBox, null, L.pulling);
      layers.textContent = "";
      var run = api("POST", D("/images"), body).then(function (answer) {
        if (!answer || answer.task === undefined) return answer;
        pullBox.setAttribute("data-task", String(answer.task));
        return O.followTask(answer.href || "/api/v1/tasks/" + answer.task, function (task) {
          pullBox.setAttribute("data-state", task.state);
          O.progress(pullBox, O.taskPercent(task), O.taskText(task));
          drawLayers(task.progress && task.progress.layers);
        });
      });
      O.busy(pull.querySelector("button[type=submit]"), run).then(function () {
        f.password.value = "";
        O.progress(pullBox, 100, O.fmt(L.pulled, { ref: body.reference }));
        O.notice(O.fmt(L.pulled, { ref: body.reference }));
        return load();
      }).catch(function (err) { pullBox.hidden = true; O.showError(err); });
    });
    function drawLayers(map) {
      layers.textContent = "";
      Object.keys(map || {}).forEach(function (id) {
        var l = map[id];
        var pct = l.total ? " " + Math.round((l.current * 100) / l.total) + " %" : "";
        layers.appendChild(el("li", "mono", shortId(id) + " " + l.status + pct));
      });
    }

    var imp = document.getElementById("import-form");
    var impBox = document.getElementById("import-progress");
    imp.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var f = imp.elements;
      var file = f.file.files[0];
      if (!file) return;
      var query = "?repo=" + enc(f.repo.value.trim()) + "&tag=" + enc(f.tag.value.trim() || "latest");
      O.clearError();
      impBox.removeAttribute("data-state");
      O.progress(impBox, null, L.working);
      var run = api("POST", D("/images/import" + query), undefined, file).then(function (answer) {
        if (!answer || answer.task === undefined) return answer;
        impBox.setAttribute("data-task", String(answer.task));
        return O.followTask(answer.href || "/api/v1/tasks/" + answer.task, function (task) {
          impBox.setAttribute("data-state", task.state);
          O.progress(impBox, O.taskPercent(task), O.taskText(task));
        });
      });
      O.busy(imp.querySelector("button[type=submit]"), run).then(function () {
        var ref = f.repo.value.trim() + ":" + (f.tag.value.trim() || "latest");
        O.progress(impBox, 100, O.fmt(L.imported, { ref: ref }));
        O.notice(O.fmt(L.imported, { ref: ref }));
        return load();
      }).catch(function (err) { impBox.hidden = true; O.showError(err); });
    });
  }

  // ---- networks and volumes: a list, a create form, removal ----
  function simplePage(kind, sectionId, formId, cells, key, confirmKey) {
    var section = document.getElementById(sectionId);
    var list = new O.List(section, {
      text: function (r) { return JSON.stringify(r); },
      render: function (r) {
        var actions = el("td", "row-actions");
        actions.appendChild(actionButton("remove", L.a_remove, "small danger", function (b) {
          if (!window.confirm(O.fmt(L[confirmKey], { name: r.name }))) return;
          O.clearError();
          O.busy(b, api("DELETE", D("/" + kind + "/" + enc(r[key]))))
            .then(function () { O.notice(L.done); return load(); }).catch(O.showError);
        }));
        var row = tr(cells(r).concat([actions]));
        row.setAttribute("data-name", r.name);
        return row;
      },
      reload: load,
    });
    function load() {
      list.loading();
      return api("GET", D("/" + kind)).then(function (rows) { list.set(Array.isArray(rows) ? rows : []); });
    }
    var form = document.getElementById(formId);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var f = form.elements;
      var body = { name: f.name.value.trim() };
      if (f.driver.value.trim()) body.driver = f.driver.value.trim();
      if (f.internal) body.internal = f.internal.checked;
      if (f.labels) body.labels = parseLabels(f.labels.value);
      O.clearError();
      O.busy(form.querySelector("button[type=submit]"), api("POST", D("/" + kind), body))
        .then(function () { form.reset(); O.notice(L.done); return load(); }).catch(O.showError);
    });
    load().catch(O.showError);
  }

  if (page === "containers") containersPage();
  else if (page === "images") imagesPage();
  else if (page === "networks") {
    simplePage("networks", "networks", "network-form", function (n) {
      return [td(n.name, "mono"), td(shortId(n.id), "mono"), td(n.driver), td(n.scope),
        td(n.internal ? L.yes : L.no), td(O.whenIso(n.created))];
    }, "id", "confirm_remove_network");
  } else if (page === "volumes") {
    simplePage("volumes", "volumes", "volume-form", function (v) {
      return [td(v.name, "mono"), td(v.driver), td(v.mountpoint, "mono wrap"), td(O.whenIso(v.created))];
    }, "name", "confirm_remove_volume");
  } else if (page === "container" && window.DockerContainer) {
    window.DockerContainer(O, { D: D, node: node, containerAction: containerAction, stateBadge: stateBadge,
      ports: ports, labelsText: labelsText, shortId: shortId, containerHref: containerHref });
  }
})();
