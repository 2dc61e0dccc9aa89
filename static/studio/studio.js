// The step view (ui/studio.py explains the design): it receives a whole program's pass once and
// steps through it here, in the browser. The timeline, keys, autoplay, the graph, the step's text,
// the inspector and the tape all follow `this.t` without a server round trip; the step is reported
// to Python afterwards (debounced), so the share link and the tools follow.

const version = new URL(import.meta.url).search; // "?v=<hash of these files>": never a stale copy
const { GraphPane } = await import(`./graph.js${version}`);
const { element, renderStep, renderInspector, Tape } = await import(`./panels.js${version}`);
const { Predictor } = await import(`./predict.js${version}`);

const REPORT_DELAY_MS = 200; // a burst of key presses reports once
const PRESENT_TEXT_PX = 18; // presentation: the current node's text at least this big on screen
const SPEEDS = [0.25, 0.5, 1, 1.5, 2, 3];
// The component's name -> its Studio (a page has one step view). The JS runs again on new data, and
// Streamlit may also mount the component afresh in a new element with a new frontend key (when
// elements above it come or go): the Studio, its step and its drawn graph then move into the new
// element instead of starting over from the server's last request.
const instances = new Map();

let katexPromise = null;
function loadKatex(staticBase) {
  if (!katexPromise) {
    // The fonts' @font-face rules must live in the document: Chromium ignores them in a shadow root.
    if (!document.getElementById("bps-katex-fonts")) {
      document.head.append(element("link", { id: "bps-katex-fonts", rel: "stylesheet", href: `${staticBase}vendor/katex/katex-fonts.css` }));
    }
    katexPromise = import(`${staticBase}vendor/katex/katex.mjs`).then((m) => m.default).catch(() => null);
  }
  return katexPromise;
}

// The payload (ui/studio.py): a JSON line for the page, then the program's JSON, gzip-compressed.
function split(data) {
  const bytes = ArrayBuffer.isView(data) ? data : new Uint8Array(data);
  const cut = bytes.indexOf(10);
  return [JSON.parse(new TextDecoder().decode(bytes.subarray(0, cut))), bytes.subarray(cut + 1)];
}

async function inflate(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  const data = JSON.parse(await new Response(stream).text());
  // A look repeats the lines of the one before where it lists null (see studio.py _carried).
  const carry = (looks) => {
    for (let k = 1; k < looks.length; k++) {
      for (let i = 2; i < looks[k].length; i++) if (looks[k][i] === null) looks[k][i] = looks[k - 1][i];
    }
  };
  data.looks.forEach(carry);
  (data.clusters ?? []).forEach(([, looks]) => carry(looks));
  return data;
}

function isTextField(target) {
  if (!target || !target.tagName) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag !== "INPUT") return target.getAttribute?.("role") === "combobox" || target.getAttribute?.("role") === "textbox";
  return !["checkbox", "radio", "button", "submit", "reset", "range", "color", "file", "image"].includes(target.type);
}

class Studio {
  constructor(component, base) {
    this.component = component;
    this.base = base;
    this.t = 0;
    this.node = null; // picked in the inspector; null = follow the current node
    this.playing = false;
    this.speed = 1;
    this.revision = null;
    this.programKey = null;
    this.follow = true;
    this.animate = !window.matchMedia?.("(prefers-reduced-motion: reduce)").matches;
    this.timer = null;
    this.reportTimer = null;
    this.onKey = (event) => this.key(event);
    this.onResize = () => this.resized();
    this.attached = false;
    this.katex = null;
  }

  // After a move into a new element (see mount): autoplay and the view go on where they were.
  resumeAfterMove() {
    if (!this.destroyed) return;
    this.destroyed = false;
    if (this.playing) this.setPlaying(true, false);
  }

  attach() {
    if (this.attached) return;
    this.attached = true;
    document.addEventListener("keydown", this.onKey);
    window.addEventListener("resize", this.onResize);
  }

  // ---- data from Python -------------------------------------------------------------------------
  async update(component) {
    this.component = component;
    this.attach();
    const [page, programBytes] = split(component.data);
    const staticBase = new URL(page.static, window.location.origin + window.location.pathname).href;
    this.hooks = page.hooks;
    this.stateName = page.state;
    this.answersName = page.answers;
    if (!this.root) this.build(component.parentElement, staticBase);
    this.resumeAfterMove();
    if (!this.katex) loadKatex(staticBase).then((k) => { this.katex = k; this.render(); });
    const newProgram = page.program !== this.programKey;
    if (newProgram) {
      performance.mark("bps:program-received"); // the marks time a program's arrival (bench/ui.py)
      this.programKey = page.program;
      const data = await inflate(programBytes);
      performance.mark("bps:program-inflated");
      if (this.programKey !== page.program) return; // a newer program arrived meanwhile
      this.data = data;
      this.graph.setData(this.data);
      this.graphBox.classList.remove("waiting");
      performance.mark("bps:graph-inserted");
      this.tape.rows = null;
      this.predictor.reset();
      delete this.stepBox.dataset.asking;
      this.slider.max = String(this.data.tEnd);
      this.noteBox.textContent = this.data.note ?? "";
      this.noteBox.hidden = !this.data.note;
      this.legend();
    }
    this.present = page.present;
    this.root.classList.toggle("present", this.present);
    this.predictor.marks = page.predictions ?? {};
    this.predictor.score = page.score ?? [0, 0];
    this.graph.setMarks(page.marks ?? [], page.firstWrong);
    this.marks = new Map((page.marks ?? []).map((mark) => [mark[0], mark]));
    if (page.revision !== this.revision) {
      // The server moved the step itself (a new program, a link, what-if): take its request.
      const request = page.request;
      this.revision = page.revision;
      this.t = Math.min(Math.max(request.t, 0), this.data.tEnd);
      this.predictor.passed(0, this.t); // a link to step t: the steps before it are shown, t is asked
      this.node = request.node;
      this.speed = request.speed;
      this.setPredicting(request.predict, false);
      this.setPlaying(request.playing, false);
    }
    this.speedSelect.value = String(this.speed);
    this.styled.then(() => requestAnimationFrame(() => {
      if (newProgram || !this.graph.view) this.initialView();
      this.render({ smooth: false });
      if (newProgram) performance.mark("bps:program-shown");
    }));
  }

  build(parent, staticBase) {
    const h = this.hooks;
    const button = (hook, label, symbol, onClick) => {
      const b = element("button", { type: "button", hook, title: label, "aria-label": label }, element("span", { class: "symbol", text: symbol }), element("span", { class: "label", text: label }));
      b.addEventListener("click", onClick);
      return b;
    };
    this.buttons = {
      first: button(h.first, "First", "⇤", () => this.go(0)),
      prev: button(h.prev, "Previous", "←", () => this.go(this.stepped(-1))),
      play: button(h.play, "Play", "▶", () => this.setPlaying(!this.playing)),
      next: button(h.next, "Next", "→", () => this.next()),
      last: button(h.last, "Last", "⇥", () => this.go(this.data.tEnd)),
    };
    this.phase = element("div", { class: "phase", hook: h.phase, "aria-live": "polite" });
    this.slider = element("input", { type: "range", min: "0", max: "0", step: "1", value: "0", hook: h.slider, "aria-label": "Step" });
    this.slider.addEventListener("input", () => this.go(Number(this.slider.value)));
    this.speedSelect = element("select", { hook: h.speed, "aria-label": "Seconds per step" },
      ...SPEEDS.map((s) => element("option", { value: String(s), text: `${s} s/step` })));
    this.speedSelect.addEventListener("change", () => { this.speed = Number(this.speedSelect.value); if (this.playing) this.setPlaying(true); this.report(true); });
    // Predict-then-reveal: a toggle and the score over the pass.
    this.predictor = new Predictor(h);
    this.predictButton = element("button", { type: "button", class: "predict", hook: h.predict, "aria-pressed": "false", title: "Predict, then reveal: before each backward step, say what it will send" },
      element("span", { class: "symbol", text: "?" }), element("span", { class: "label", text: "Predict" }));
    this.predictButton.addEventListener("click", () => this.setPredicting(!this.predictor.on));
    this.scoreChip = element("span", { class: "score", hook: h.score, "aria-live": "polite" });
    const toolbar = element("div", { class: "toolbar", hook: h.toolbar }, ...Object.values(this.buttons), this.phase, this.slider, this.speedSelect, this.predictButton, this.scoreChip);
    // Next and Previous step over a collapsed call or iteration as one step; this enters it.
    this.stepIntoSlot = element("div", { class: "step-into" });

    const check = (hook, label, value, onChange) => {
      const input = element("input", { type: "checkbox" });
      input.checked = value;
      input.addEventListener("change", () => onChange(input.checked));
      return element("label", { class: "check", hook }, input, element("span", { text: label }));
    };
    const small = (hook, label, text, onClick) => {
      const b = element("button", { type: "button", hook, title: label, "aria-label": label, text });
      b.addEventListener("click", onClick);
      return b;
    };
    const graphTools = element("div", { class: "graph-tools" },
      small(h.fit, "Fit the whole graph", "Fit", () => this.graph.fit()),
      small(h.zoom_out, "Zoom out", "−", () => this.graph.zoomBy(1 / 1.25)),
      small(h.zoom_in, "Zoom in", "+", () => this.graph.zoomBy(1.25)),
      check(h.follow, "Follow the current node", this.follow, (v) => { this.follow = v; if (v) this.render(); }),
      check(h.animate, "Animate", this.animate, (v) => { this.animate = v; }),
      small(h.svg_download, "Download the graph at this step as SVG", "SVG ↓", () => this.downloadSvg()),
      this.frameTools = element("span", { class: "frame-tools" },
        small(h.collapse_all, "Draw every call and loop iteration as one node", "Collapse all", () => this.collapseAll(true)),
        small(h.expand_all, "Open every call and loop iteration", "Expand all", () => this.collapseAll(false))),
    );
    this.stepInto = small(h.step_into, "Open the collapsed call or iteration of this step, at its first step", "", () => this.enterFrame());
    this.graphBox = element("div", { class: "graph", hook: h.graph, tabindex: "0", "aria-label": "The computation graph" });
    this.legendBox = element("div", { class: "legend" });
    this.noteBox = element("p", { class: "note" });
    this.stepBox = element("section", { class: "step", hook: h.step });
    this.stepTitle = element("h3", { text: "This step" });
    this.inspectSelect = element("select", { "aria-label": "Inspect node" });
    this.inspectSelect.addEventListener("change", () => {
      const v = this.inspectSelect.value;
      this.node = v === "" ? null : Number(v);
      this.render();
      this.report();
    });
    this.inspectorBox = element("div", { class: "inspector-body" });
    const inspector = element("section", { class: "inspector", hook: h.inspector },
      element("h3", { text: "Node inspector" }), this.inspectSelect, this.inspectorBox);
    this.tapeBox = element("div", { class: "tape-body" });
    this.tapeDetails = element("details", { class: "tape", hook: h.tape }, element("summary", { text: "Tape: every node at this step" }), this.tapeBox);
    this.tapeDetails.addEventListener("toggle", () => this.render());
    this.tape = new Tape(this.tapeBox);

    const css = element("link", { rel: "stylesheet", href: `${this.base}studio.css${version}` });
    this.styled = new Promise((resolve) => { css.addEventListener("load", resolve); css.addEventListener("error", resolve); });
    this.root = element("div", { class: "studio", hook: h.root },
      css,
      element("link", { rel: "stylesheet", href: `${staticBase}vendor/katex/katex.min.css` }),
      toolbar,
      element("div", { class: "main" },
        element("div", { class: "graph-pane" }, graphTools, this.graphBox, this.stepIntoSlot, this.legendBox, this.noteBox),
        element("div", { class: "side" }, element("section", {}, this.stepTitle, this.stepBox), inspector)),
      this.tapeDetails);
    parent.append(this.root);
    this.graph = new GraphPane(this.graphBox, {
      onSelect: (id) => { this.node = this.node === id ? null : id; this.render(); this.report(); },
      onFrame: (fid, close) => this.setFrame(fid, close),
      hooks: h,
    });
  }

  legend() {
    const chips = this.data.statuses.map((name, i) => {
      const [fill, border, text, , dashed] = this.data.styles[i];
      return element("span", { class: "chip", title: this.data.meanings[i], style: `background:${fill};border:2px ${dashed ? "dashed" : "solid"} ${border};color:${text}`, text: name });
    });
    chips.push(element("span", { class: "chip sent", text: "← sent gradient" }));
    this.legendBox.replaceChildren(...chips);
    this.inspectSelect.replaceChildren(element("option", { value: "", text: "the current node" }),
      ...this.data.nodes.map(([kind, title], id) => (kind === "constant" ? null : element("option", { value: String(id), text: title }))).filter(Boolean));
  }

  // ---- the step ---------------------------------------------------------------------------------
  go(t, { fromPlayer = false } = {}) {
    if (!this.data) return;
    const next = Math.min(Math.max(t, 0), this.data.tEnd);
    if (!fromPlayer && this.playing) this.setPlaying(false);
    if (next === this.t) { this.render(); return; }
    const animate = this.animate && next === this.t + 1;
    if (next > this.t) this.predictor.passed(this.t, next);
    else this.predictor.revealed.add(next); // going back: a step already shown, not asked again
    this.t = next;
    this.render({ animate });
    this.report();
  }

  // Next: reveal the step asked about, else the next step.
  next() {
    if (this.predictor.pending(this.data, this.t)) this.reveal();
    else this.go(this.stepped(1));
  }

  // ---- predict, then reveal ------------------------------------------------------------------------
  setPredicting(on, report = true) {
    const wasOn = this.predictor.on;
    this.predictor.on = Boolean(on);
    if (this.predictor.on && !wasOn) this.predictor.reset(); // a new pass, a new score
    this.predictButton.setAttribute("aria-pressed", String(this.predictor.on));
    if (this.data) this.render();
    if (report) this.report(true);
  }

  reveal() {
    const t = this.t;
    const items = this.predictor.collect(t);
    if (items.length) this.component.setTriggerValue(this.answersName, { t, program: this.programKey, items });
    this.render({ animate: this.animate });
    this.graphBox.focus({ preventScroll: true }); // the keys step again
  }

  currentNode() {
    return this.data.steps[this.t][3];
  }

  // ---- calls and loop iterations -----------------------------------------------------------------
  // [id, kind, label, parent, collapsed, [first, last] forward, [first, last] backward]
  collapsedRanges() {
    const shown = new Set((this.data.clusters ?? []).map(([fid]) => fid));
    return (this.data.frames ?? []).filter((f) => shown.has(f[0])).flatMap((f) => [f[5], f[6]].filter(Boolean).map((r) => [f, r]));
  }

  // The step after (+1) or before (-1) t, a collapsed frame's steps counting as one: its last.
  stepped(direction) {
    let t = this.t + direction;
    for (const [, [first, last]] of this.collapsedRanges()) {
      if (direction > 0 && t >= first && t <= last) t = last;
      if (direction < 0 && t >= first && t < last) t = first - 1;
    }
    return t;
  }

  frameOfStep() {
    return this.collapsedRanges().find(([, [, last]]) => last === this.t)?.[0] ?? null;
  }

  collapsed() {
    return (this.data.frames ?? []).filter((f) => f[4]).map((f) => f[0]);
  }

  setFrame(fid, close) {
    const collapsed = new Set(this.collapsed());
    if (close) collapsed.add(fid); else collapsed.delete(fid);
    this.reportCollapsed([...collapsed]);
  }

  collapseAll(close) {
    this.reportCollapsed(close ? (this.data.frames ?? []).filter((f) => f[3] == null).map((f) => f[0]) : []);
  }

  enterFrame() {
    const frame = this.frameOfStep();
    if (!frame) return;
    const [first] = this.t > this.data.tForwardEnd ? frame[6] : frame[5];
    this.t = first; // kept while the server lays the opened frame out (the revision does not change)
    this.setFrame(frame[0], false);
  }

  reportCollapsed(collapsed) {
    this.graphBox.classList.add("waiting");
    this.report(true, { collapsed: collapsed.sort((a, b) => a - b) });
  }

  render({ animate = false, smooth = true } = {}) {
    if (!this.data || !this.graph.svg) return;
    const { t, data } = this;
    const step = data.steps[t];
    const asking = this.predictor.pending(data, t);
    this.phase.textContent = asking ? `${step[0]}: predict` : step[0];
    this.slider.value = String(t);
    this.buttons.first.disabled = this.buttons.prev.disabled = t === 0;
    this.buttons.next.disabled = this.buttons.last.disabled = t === data.tEnd;
    this.buttons.play.querySelector(".symbol").textContent = this.playing ? "❚❚" : "▶";
    this.buttons.play.querySelector(".label").textContent = this.playing ? "Pause" : "Play";
    this.buttons.play.setAttribute("aria-label", this.playing ? "Pause" : "Play");
    this.predictButton.hidden = !data.prompts || !Object.keys(data.prompts).length;
    this.scoreChip.hidden = this.predictButton.hidden || !this.predictor.on;
    this.scoreChip.textContent = this.predictor.scoreText();
    const shown = asking ? t - 1 : t; // asking: the step itself is not shown yet, anywhere
    this.graph.show(shown, { animate: animate && !asking });
    const frame = this.frameOfStep();
    this.stepIntoSlot.replaceChildren(...(frame ? [this.stepInto] : []));
    if (frame) this.stepInto.textContent = `Step into ${frame[2]}`;
    this.frameTools.hidden = !(this.data.frames ?? []).length;
    const current = this.currentNode();
    const shownNode = this.node ?? current ?? data.nodes.length - 1;
    this.graph.select(this.node);
    if (asking) this.graph.select(current); // the node whose step is asked about
    const focus = current ?? shownNode;
    if (this.present) this.graph.present(this.neighbourhood(focus), PRESENT_TEXT_PX, smooth);
    else if (this.follow && focus != null) this.graph.follow([focus], smooth);
    if (asking) {
      if (this.stepBox.dataset.asking !== String(t)) {
        this.predictor.renderQuestions(this.stepBox, data, t, { focus: !this.present, onReveal: () => this.reveal() });
        this.stepBox.dataset.asking = String(t);
        this.drawnStep = null; // the questions replaced the step's text
      }
    } else {
      delete this.stepBox.dataset.asking;
      // Typeset once per step shown: a render for anything else (a resize, a click, play) keeps the
      // step box as it is, with the expansion entry the user picked in it.
      const drawn = this.drawnStep;
      if (!drawn || drawn.data !== data || drawn.t !== t || drawn.katex !== this.katex) {
        renderStep(this.stepBox, step, this.katex, this.hooks);
        this.drawnStep = { data, t, katex: this.katex };
      }
      this.stepBox.querySelector(":scope > .answer-marks")?.remove();
      const marks = this.predictor.renderMarks(data, t);
      if (marks) this.stepBox.prepend(marks);
    }
    this.inspectSelect.value = this.node == null ? "" : String(this.node);
    if (!this.present) {
      renderInspector(this.inspectorBox, data, shownNode, shown, this.node == null, this.marks?.get(shownNode));
      if (this.tapeDetails.open) {
        if (!this.tape.rows) this.tape.build(data);
        this.tape.show(shown);
      }
    }
  }

  neighbourhood(id) {
    if (id == null) return [];
    const ids = new Set([id]);
    for (const [parent, child] of this.data.edges) {
      if (parent === id) ids.add(child);
      if (child === id) ids.add(parent);
    }
    return [...ids];
  }

  initialView() {
    const g = this.graph;
    if (this.present) return; // present() places it
    if (g.fitScale() >= 0.75) g.fit(false);
    else {
      const focus = this.currentNode() ?? 0;
      const box = g.boxOf([focus]);
      g.setView(box ? box.x + box.width / 2 : g.size.width / 2, box ? box.y + box.height / 2 : 0, 1);
    }
  }

  resized() {
    if (this.graph?.view) this.render({ smooth: false });
  }

  // ---- autoplay: timed here, at exactly the chosen rate ------------------------------------------
  setPlaying(on, report = true) {
    clearTimeout(this.timer);
    this.playing = Boolean(on) && Boolean(this.data);
    if (this.playing) {
      if (this.t >= this.data.tEnd) this.go(0, { fromPlayer: true }); // at the end: start over
      const start = performance.now(), interval = this.speed * 1000;
      let ticks = 0;
      const tick = () => {
        ticks += 1;
        if (!this.root?.isConnected) { this.destroy(); return; }
        if (this.t >= this.data.tEnd) { this.setPlaying(false); return; }
        this.go(this.stepped(1), { fromPlayer: true });
        // At the end, or at a step to predict: stop and wait.
        if (this.t >= this.data.tEnd || this.predictor.pending(this.data, this.t)) { this.setPlaying(false); return; }
        this.timer = setTimeout(tick, Math.max(0, start + (ticks + 1) * interval - performance.now()));
      };
      this.timer = setTimeout(tick, interval);
    }
    this.render();
    if (report) this.report(true);
  }

  // ---- keys, wherever the focus is (but in a text field) -----------------------------------------
  key(event) {
    if (!this.root?.isConnected) { this.destroy(); return; }
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    const target = event.composedPath ? event.composedPath()[0] : event.target;
    if (isTextField(target)) return;
    const actions = {
      ArrowRight: () => this.next(), PageDown: () => this.next(),
      ArrowLeft: () => this.go(this.stepped(-1)), PageUp: () => this.go(this.stepped(-1)),
      Home: () => this.go(0), End: () => this.go(this.data.tEnd),
      " ": () => this.setPlaying(!this.playing),
    };
    const action = actions[event.key];
    if (!action || !this.data) return;
    event.preventDefault();
    event.stopPropagation();
    action();
  }

  // ---- back to Python ----------------------------------------------------------------------------
  report(now = false, extra = {}) {
    clearTimeout(this.reportTimer);
    const send = () => {
      this.component.setStateValue(this.stateName, {
        t: this.t, node: this.node, playing: this.playing, speed: this.speed, revision: this.revision,
        collapsed: this.collapsed(), predict: this.predictor.on, ...extra,
      });
    };
    if (now) send(); else this.reportTimer = setTimeout(send, REPORT_DELAY_MS);
  }

  downloadSvg() {
    const blob = new Blob([this.graph.svgText()], { type: "image/svg+xml" });
    const url = URL.createObjectURL(blob);
    const a = element("a", { href: url, download: `backprop-t${this.t}.svg` });
    this.root.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  // Streamlit runs the cleanup also when it calls the component's JS again with new data, on the
  // same element: only an element gone from the page ends the instance (keys and timers check too).
  cleanup() {
    setTimeout(() => { if (!this.root?.isConnected) this.destroy(); }, 0);
  }

  destroy() {
    clearTimeout(this.timer);
    clearTimeout(this.reportTimer);
    this.graph?.stopAnimations();
    document.removeEventListener("keydown", this.onKey);
    window.removeEventListener("resize", this.onResize);
    this.attached = false;
    this.destroyed = true;
  }
}

export async function mount(component, base) {
  const key = component.name;
  let studio = instances.get(key);
  if (!studio) {
    studio = new Studio(component, base);
    instances.set(key, studio);
  } else if (studio.root && studio.root.parentNode !== component.parentElement) {
    component.parentElement.append(studio.root); // mounted afresh: keep the step, the graph, the view
  }
  await studio.update(component);
  return () => studio.cleanup();
}
