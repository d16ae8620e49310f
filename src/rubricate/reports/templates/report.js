/* rubricate report: charts and the episode browser.
 * Trace data reaches the DOM only through textContent, attribute values and form option values;
 * never through innerHTML. Listeners are attached with addEventListener (no inline handlers). */
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("report-data").textContent);
  var LIST_LIMIT = 300;
  var state = { item: "", verdict: "", cohort: "", text: "", current: null };
  var byId = new Map();
  DATA.episodes.forEach(function (ep) { byId.set(ep.id, ep); });
  var episodes = DATA.episodes.slice().sort(function (a, b) { return a.id < b.id ? -1 : a.id > b.id ? 1 : 0; });
  var behaviorOf = new Map();
  DATA.items.forEach(function (it) { behaviorOf.set(it.id, it.behavior); });

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function link(text, onClick, cls) {
    var a = el("a", cls, text);
    a.href = "#";
    a.addEventListener("click", function (event) { event.preventDefault(); onClick(); });
    return a;
  }

  /* charts */
  function drawCharts() {
    if (!window.Plotly) return;
    document.querySelectorAll("[data-figure]").forEach(function (div) {
      var figure = DATA.figures[div.getAttribute("data-figure")];
      if (!figure) return;
      window.Plotly.newPlot(div, figure.data, figure.layout, { displayModeBar: false, responsive: true });
    });
  }

  /* filters */
  function fillSelect(id, values) {
    var select = document.getElementById(id);
    if (!select) return null;
    values.forEach(function (v) {
      var option = el("option", null, v);
      option.value = v;
      select.appendChild(option);
    });
    return select;
  }

  function matches(ep) {
    var v = ep.verdicts || {};
    if (state.item && state.verdict) {
      if (!v[state.item] || v[state.item][0] !== state.verdict) return false;
    } else if (state.item) {
      if (!v[state.item]) return false;
    } else if (state.verdict) {
      if (!Object.keys(v).some(function (k) { return v[k][0] === state.verdict; })) return false;
    }
    if (state.cohort && ep.cohort !== state.cohort) return false;
    if (state.text) {
      var needle = state.text.toLowerCase();
      if (String(ep.id).toLowerCase().indexOf(needle) < 0 &&
          String(ep.task || "").toLowerCase().indexOf(needle) < 0) return false;
    }
    return true;
  }

  function chips(ep) {
    var box = el("span", "chips");
    DATA.items.forEach(function (it) {
      var v = (ep.verdicts || {})[it.id];
      var chip = el("span", "chip v-" + (v ? v[0] : "na"));
      chip.title = it.id + ": " + (v ? v[0] : "-");
      box.appendChild(chip);
    });
    return box;
  }

  function renderList() {
    var list = document.getElementById("episode-list");
    list.textContent = "";
    var shown = 0, total = 0;
    episodes.forEach(function (ep) {
      if (!matches(ep)) return;
      total += 1;
      if (shown >= LIST_LIMIT) return;
      shown += 1;
      var li = el("li", ep.id === state.current ? "active" : "");
      li.setAttribute("data-episode", ep.id);
      li.tabIndex = 0;
      li.appendChild(el("span", "ep-id", ep.id));
      var sub = el("span", "ep-sub", ep.task ? "task " + ep.task : "");
      if (ep.cohort !== null && ep.cohort !== undefined) sub.textContent += (ep.task ? " \u00b7 " : "") + ep.cohort;
      li.appendChild(sub);
      li.appendChild(chips(ep));
      li.addEventListener("click", function () { openEpisode(ep.id); });
      li.addEventListener("keydown", function (event) { if (event.key === "Enter") openEpisode(ep.id); });
      list.appendChild(li);
    });
    if (total > shown) list.appendChild(el("li", "more", (total - shown) + " more: narrow the filters"));
    document.getElementById("f-count").textContent = total + " of " + episodes.length + " sampled episodes";
  }

  function setFilter(key, value) {
    state[key] = value;
    var id = { item: "f-item", verdict: "f-verdict", cohort: "f-cohort", text: "f-text" }[key];
    var input = document.getElementById(id);
    if (input) input.value = value;
    renderList();
  }

  /* one episode */
  function kv(dl, key, value) {
    if (value === null || value === undefined || value === "") return;
    dl.appendChild(el("dt", null, key));
    dl.appendChild(el("dd", null, value));
  }

  function renderVerdicts(ep, view) {
    var list = el("ul", "verdict-list");
    var names = DATA.items.map(function (it) { return it.id; });
    Object.keys(ep.verdicts || {}).forEach(function (k) { if (names.indexOf(k) < 0) names.push(k); });
    names.forEach(function (name) {
      var v = (ep.verdicts || {})[name];
      if (!v) return;
      var li = el("li", "verdict");
      li.setAttribute("data-item", name);
      var head = el("div");
      head.appendChild(el("code", null, name));
      if (behaviorOf.get(name)) head.appendChild(el("div", "muted small", behaviorOf.get(name)));
      li.appendChild(head);
      li.appendChild(el("span", "pill " + v[0], v[0]));
      var body = el("div");
      body.appendChild(el("div", "reason", v[1]));
      if (v[2] && v[2].length) {
        var ev = el("div", "evidence muted small", "evidence: ");
        v[2].forEach(function (n) {
          ev.appendChild(link("step " + n, function () { showStep(n); }, "evidence-link"));
        });
        body.appendChild(ev);
      }
      li.appendChild(body);
      list.appendChild(li);
    });
    view.appendChild(list);
  }

  function renderCall(call) {
    var box = el("div", "call");
    var head = el("div");
    head.appendChild(el("span", "muted small", "tool call "));
    head.appendChild(el("span", "call-name", call.name));
    if (call.result !== null && call.result !== undefined) {
      head.appendChild(el("span", "muted small", " \u2192 "));
      head.appendChild(link("result in step " + call.result, function () { showStep(call.result); }, "small"));
    } else {
      head.appendChild(el("span", "muted small", " (no result)"));
    }
    box.appendChild(head);
    if (call.args) box.appendChild(el("pre", "args", call.args));
    if (call.args_error) box.appendChild(el("div", "args-error", "arguments not parsed: " + call.args_error));
    if (call.clipped) box.appendChild(el("div", "clipped", "clipped: " + call.clipped + " characters in all"));
    return box;
  }

  function renderStep(step, cited) {
    var box = el("div", "step role-" + step.role + (step.error ? " error" : "") + (cited.has(step.i) ? " cited" : ""));
    box.id = "step-" + step.i;
    var head = el("div", "step-head");
    head.appendChild(el("span", "idx", "#" + step.i));
    head.appendChild(el("span", "role", step.role));
    if (step.tool) head.appendChild(el("span", "tool-name", step.tool));
    if (step.name) head.appendChild(el("span", "tool-name", step.name));
    if (step.error) head.appendChild(el("span", "pill fail", "error"));
    if (step.call !== null && step.call !== undefined) {
      head.appendChild(link("answers step " + step.call, function () { showStep(step.call); }, "small"));
    }
    box.appendChild(head);
    if (step.content) box.appendChild(el("pre", "content", step.content));
    if (step.clipped) box.appendChild(el("div", "clipped", "clipped: " + step.clipped + " characters in all"));
    (step.calls || []).forEach(function (call) { box.appendChild(renderCall(call)); });
    return box;
  }

  function renderEpisode(ep) {
    var view = document.getElementById("episode-view");
    view.textContent = "";
    view.setAttribute("data-episode", ep.id);
    view.appendChild(el("h3", null, ep.id));
    var dl = el("dl", "kv");
    kv(dl, "task", ep.task);
    if (DATA.by) kv(dl, DATA.by, ep.cohort);
    kv(dl, "reward", ep.reward);
    kv(dl, "source", ep.source);
    kv(dl, "format", ep.format);
    kv(dl, "question", ep.question);
    kv(dl, "final answer", ep.answer);
    kv(dl, "ground truth", ep.truth);
    view.appendChild(dl);
    view.appendChild(el("h4", null, "verdicts"));
    renderVerdicts(ep, view);
    if (ep.metadata && ep.metadata.length) {
      var details = el("details", "metadata");
      details.appendChild(el("summary", null, "metadata (" + ep.metadata.length + ")"));
      var md = el("dl", "kv");
      ep.metadata.forEach(function (pair) { kv(md, pair[0], pair[1]); });
      details.appendChild(md);
      view.appendChild(details);
    }
    view.appendChild(el("h4", null, "steps"));
    if (!ep.steps) {
      view.appendChild(el("p", "muted", ep.dropped
        ? "Steps left out to keep the report within its size budget."
        : "Steps unavailable: the trace file moved or changed since the run."));
      return;
    }
    var cited = new Set();
    Object.keys(ep.verdicts || {}).forEach(function (k) { (ep.verdicts[k][2] || []).forEach(function (n) { cited.add(n); }); });
    var steps = el("div", "steps");
    ep.steps.forEach(function (step) { steps.appendChild(renderStep(step, cited)); });
    view.appendChild(steps);
  }

  function openEpisode(id, step) {
    var ep = byId.get(id);
    var view = document.getElementById("episode-view");
    if (!ep) {
      view.textContent = "";
      view.appendChild(el("p", "muted placeholder", "Episode " + id + " is not in the embedded sample."));
      return;
    }
    state.current = id;
    document.querySelectorAll("#episode-list li.active").forEach(function (li) { li.classList.remove("active"); });
    document.querySelectorAll("#episode-list li[data-episode]").forEach(function (li) {
      if (li.getAttribute("data-episode") === id) li.classList.add("active");
    });
    renderEpisode(ep);
    view.scrollTop = 0;
    if (step !== undefined && step !== null) showStep(step);
  }

  function showStep(n) {
    var target = document.getElementById("step-" + n);
    if (!target) return;
    document.querySelectorAll(".step.highlight").forEach(function (s) { s.classList.remove("highlight"); });
    target.classList.add("highlight");
    target.scrollIntoView({ block: "center", behavior: "auto" });
  }

  function wire() {
    fillSelect("f-item", DATA.items.map(function (it) { return it.id; }));
    fillSelect("f-verdict", DATA.verdicts);
    fillSelect("f-cohort", DATA.cohorts || []);
    [["f-item", "item", "change"], ["f-verdict", "verdict", "change"], ["f-cohort", "cohort", "change"],
     ["f-text", "text", "input"]].forEach(function (spec) {
      var input = document.getElementById(spec[0]);
      if (input) input.addEventListener(spec[2], function () { state[spec[1]] = input.value; renderList(); });
    });
    document.querySelectorAll("a.browse").forEach(function (a) {
      a.addEventListener("click", function () {
        setFilter("item", a.getAttribute("data-item") || "");
        setFilter("verdict", a.getAttribute("data-verdict") || "");
      });
    });
    document.querySelectorAll("a.ep-link").forEach(function (a) {
      a.addEventListener("click", function () {
        var step = a.getAttribute("data-step");
        openEpisode(a.getAttribute("data-episode"), step === null ? null : Number(step));
      });
    });
    renderList();
  }

  function start() {
    wire();
    drawCharts();
    document.body.setAttribute("data-ready", "1");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
