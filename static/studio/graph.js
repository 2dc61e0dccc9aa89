// The graph pane: the server's one-time layout (an SVG), restyled at every step, with pan, zoom,
// follow-the-current-node and the short animation of a value or gradient travelling along an edge.
//
// Nothing here is laid out again while stepping: each node's and edge's looks come with the
// payload as (t, look) lists (ui/view.py), and a step only rewrites the attributes of the elements
// whose look changed.

const SVG_NS = "http://www.w3.org/2000/svg";
const TEXT_SIZE = 14; // the layout's font size, in SVG units (ui/dot.py FONT_SIZE)
const DASH = "5,3";

// The index of the last entry of `timeline` ([[t, ...], ...], sorted by t) with entry t <= t.
export function lookIndex(timeline, t) {
  let lo = 0, hi = timeline.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (timeline[mid][0] <= t) lo = mid; else hi = mid - 1;
  }
  return lo;
}

export class GraphPane {
  constructor(box, { onSelect, onFrame, hooks }) {
    this.box = box;
    this.hooks = hooks; // the scrolling-free viewport element; the SVG fills it
    this.onSelect = onSelect;
    this.onFrame = onFrame; // a click on a collapsed frame (open it) or on a frame's box (close it)
    this.view = null; // {cx, cy, scale}: the SVG point at the centre of the box, px per SVG unit
    this.animations = [];
    this.pointer = null;
    this.listen();
    // The box changes size when the page's columns settle or the window changes: keep the centre
    // and the scale, recompute what they show.
    this.resizeObserver = new ResizeObserver(() => { if (this.view) this.applyView(); });
    this.resizeObserver.observe(box);
  }

  // ---- a new program ------------------------------------------------------------------------------
  setData(data) {
    this.data = data;
    this.box.replaceChildren();
    const holder = document.createElement("div");
    holder.innerHTML = data.svg; // our server's SVG: Graphviz output re-serialized by ElementTree
    const svg = holder.querySelector("svg");
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
    this.svg = svg;
    this.box.appendChild(svg);
    const [, , width, height] = svg.getAttribute("viewBox").split(/\s+/).map(Number);
    this.size = { width, height };
    const graph = svg.querySelector("g.graph");
    const shift = /translate\(([-\d.]+)[ ,]+([-\d.]+)\)/.exec(graph.getAttribute("transform") || "");
    this.shift = shift ? [Number(shift[1]), Number(shift[2])] : [0, 0];
    this.nodes = data.nodes.map((_, i) => this.indexNode(svg.querySelector(`#n${i}`)));
    this.edges = data.edges.map((_, i) => this.indexEdge(svg.querySelector(`#e${i}`)));
    // Collapsed frames are nodes of their own (f<id>), with the edges that stand for theirs (x<j>).
    this.frameNodes = new Map((data.clusters ?? []).map(([fid, looks]) => [fid, { ...this.indexNode(svg.querySelector(`#f${fid}`)), looks, applied: -1 }]));
    this.clusterEdges = (data.clusterEdges ?? []).map(([, , looks], j) => ({ ...this.indexEdge(svg.querySelector(`#x${j}`)), looks, applied: -1 }));
    svg.querySelectorAll("g.cluster").forEach((box) => box.setAttribute("data-frame", box.id.replace(/^k/, "")));
    this.applied = { nodes: new Array(this.nodes.length).fill(-1), edges: new Array(this.edges.length).fill(-1) };
    this.selection = document.createElementNS(SVG_NS, "rect");
    this.selection.setAttribute("class", "selection");
    graph.appendChild(this.selection);
    this.selected = null;
    this.t = null;
  }

  indexNode(group) {
    if (!group) return null; // a node hidden in a collapsed frame
    const shape = group.querySelector("ellipse, polygon, path");
    const texts = [...group.querySelectorAll("text")];
    const box = group.getBBox();
    return {
      group, shape, texts,
      box: { x: box.x + this.shift[0], y: box.y + this.shift[1], width: box.width, height: box.height },
    };
  }

  indexEdge(group) {
    if (!group) return null; // an edge inside a collapsed frame, or standing for one
    return {
      group, path: group.querySelector("path"), arrow: group.querySelector("polygon"),
      label: group.querySelector("text"),
    };
  }

  // ---- one step -----------------------------------------------------------------------------------
  show(t, { animate = false } = {}) {
    const { data } = this;
    const previous = this.t;
    this.t = t;
    for (let i = 0; i < this.nodes.length; i++) {
      const node = this.nodes[i];
      if (!node) continue;
      const index = lookIndex(data.looks[i], t);
      if (index === this.applied.nodes[i]) continue;
      this.applied.nodes[i] = index;
      this.styleNode(i, node, data.looks[i][index]);
    }
    for (const frame of this.frameNodes.values()) {
      if (!frame.group) continue;
      const index = lookIndex(frame.looks, t);
      if (index === frame.applied) continue;
      frame.applied = index;
      this.styleShape(frame, frame.looks[index]);
    }
    const travelling = [];
    for (let i = 0; i < this.edges.length; i++) {
      const edge = this.edges[i];
      if (!edge) continue;
      const index = lookIndex(data.edgeLooks[i], t);
      if (index === this.applied.edges[i]) continue;
      this.applied.edges[i] = index;
      const look = data.edgeLooks[i][index];
      this.styleEdge(edge, look);
      if (look[0] === t && (look[1] === 1 || look[1] === 3)) travelling.push([edge, look[1] === 3]);
    }
    for (const edge of this.clusterEdges) {
      if (!edge.group) continue;
      const index = lookIndex(edge.looks, t);
      if (index === edge.applied) continue;
      edge.applied = index;
      this.styleEdge(edge, edge.looks[index]);
      const look = edge.looks[index];
      if (look[0] === t && (look[1] === 1 || look[1] === 3)) travelling.push([edge, look[1] === 3]);
    }
    this.stopAnimations();
    if (animate && previous === t - 1) {
      for (const [edge, backwards] of travelling) this.travel(edge, backwards);
    }
  }

  // The element that shows a node: itself, or the collapsed frame it is hidden in.
  entryOf(nodeId) {
    const owner = this.data.owner?.[nodeId];
    return owner == null ? this.nodes[nodeId] : this.frameNodes.get(owner);
  }

  styleNode(i, node, look) {
    const kind = this.data.nodes[i][0];
    if (kind === "constant") {
      const [, , ...lines] = look;
      node.texts.forEach((text, slot) => { text.textContent = lines[slot] ?? ""; });
      return;
    }
    this.styleShape(node, look);
  }

  styleShape(node, look) {
    const [, status, ...lines] = look;
    const [fill, border, textColour, gradColour, dashed, width] = this.data.styles[status];
    if (node.shape) {
      node.shape.setAttribute("fill", fill);
      node.shape.setAttribute("stroke", border);
      node.shape.setAttribute("stroke-width", width);
      if (dashed) node.shape.setAttribute("stroke-dasharray", DASH);
      else node.shape.removeAttribute("stroke-dasharray");
    }
    node.group.dataset.status = this.data.statuses[status];
    node.texts.forEach((text, slot) => {
      text.textContent = lines[slot] ?? "";
      text.setAttribute("fill", slot === 2 ? gradColour : textColour);
      if (slot === 0) text.setAttribute("font-weight", "bold");
    });
  }

  styleEdge(edge, look) {
    const [, state, label] = look;
    const [colour, width] = this.data.edgeStyles[state];
    edge.path.setAttribute("stroke", colour);
    edge.path.setAttribute("stroke-width", width);
    if (edge.arrow) {
      edge.arrow.setAttribute("fill", colour);
      edge.arrow.setAttribute("stroke", colour);
    }
    if (edge.label) {
      edge.label.textContent = label;
      edge.label.setAttribute("fill", colour);
      edge.label.setAttribute("font-weight", state === 3 ? "bold" : "normal");
    }
  }

  // A dot runs along an edge: parent -> child for a forward value, child -> parent for a gradient.
  travel(edge, backwards) {
    if (!edge.path || typeof edge.path.getTotalLength !== "function") return;
    const length = edge.path.getTotalLength();
    const dot = document.createElementNS(SVG_NS, "circle");
    dot.setAttribute("r", "5");
    dot.setAttribute("class", "travel");
    dot.setAttribute("fill", edge.path.getAttribute("stroke"));
    edge.group.appendChild(dot);
    const duration = 450, start = performance.now();
    const animation = { dot, frame: 0 };
    const step = (now) => {
      const f = Math.min(1, (now - start) / duration);
      const eased = f < 0.5 ? 2 * f * f : 1 - Math.pow(-2 * f + 2, 2) / 2;
      const point = edge.path.getPointAtLength((backwards ? 1 - eased : eased) * length);
      dot.setAttribute("cx", point.x);
      dot.setAttribute("cy", point.y);
      if (f < 1) animation.frame = requestAnimationFrame(step); else dot.remove();
    };
    animation.frame = requestAnimationFrame(step);
    this.animations.push(animation);
  }

  stopAnimations() {
    for (const a of this.animations) { cancelAnimationFrame(a.frame); a.dot.remove(); }
    this.animations = [];
  }

  select(nodeId) {
    this.selected = nodeId;
    const node = nodeId == null ? null : this.entryOf(nodeId);
    if (!node) { this.selection.setAttribute("visibility", "hidden"); return; }
    const pad = 5, b = node.box;
    this.selection.setAttribute("visibility", "visible");
    this.selection.setAttribute("x", b.x - pad - this.shift[0]);
    this.selection.setAttribute("y", b.y - pad - this.shift[1]);
    this.selection.setAttribute("width", b.width + 2 * pad);
    this.selection.setAttribute("height", b.height + 2 * pad);
  }

  // ---- the student's claims ("My gradient") ---------------------------------------------------------
  // A box around each node a claim is about: solid ✓ when right, heavy dashed ✗ when wrong (or of
  // the wrong shape), dotted ? when it could not be checked; the first wrong node says so.
  setMarks(marks, firstWrong) {
    if (!this.svg) return;
    this.svg.querySelectorAll("g.claim-mark").forEach((e) => e.remove());
    const graph = this.svg.querySelector("g.graph");
    for (const [nodeId, status, symbol, message] of marks) {
      const node = this.entryOf(nodeId);
      if (!node) continue;
      const pad = 9, b = node.box, x = b.x - pad - this.shift[0], y = b.y - pad - this.shift[1];
      const group = document.createElementNS(SVG_NS, "g");
      group.setAttribute("class", `claim-mark ${status}${nodeId === firstWrong ? " first" : ""}`);
      group.dataset.hook = this.hooks?.claim_mark ?? "claim-mark";
      group.dataset.node = String(nodeId);
      group.dataset.status = status;
      const rect = document.createElementNS(SVG_NS, "rect");
      rect.setAttribute("x", x); rect.setAttribute("y", y);
      rect.setAttribute("width", b.width + 2 * pad); rect.setAttribute("height", b.height + 2 * pad);
      rect.setAttribute("rx", "8");
      const words = nodeId === firstWrong ? `${symbol} first wrong claim` : `${symbol} your ḡ`;
      const label = document.createElementNS(SVG_NS, "text");
      label.setAttribute("x", x + b.width + 2 * pad); label.setAttribute("y", y - 4);
      label.setAttribute("text-anchor", "end");
      label.textContent = words;
      const title = document.createElementNS(SVG_NS, "title");
      title.textContent = message;
      group.append(title, rect, label);
      graph.appendChild(group);
    }
  }

  // ---- the viewport -------------------------------------------------------------------------------
  viewport() {
    const r = this.box.getBoundingClientRect();
    return { width: Math.max(r.width, 1), height: Math.max(r.height, 1) };
  }

  fitScale(box = { x: 0, y: 0, ...this.size }, margin = 16) {
    const v = this.viewport();
    return Math.min((v.width - 2 * margin) / box.width, (v.height - 2 * margin) / box.height);
  }

  setView(cx, cy, scale, smooth = false) {
    const target = { cx, cy, scale: Math.min(Math.max(scale, 0.02), 8) };
    cancelAnimationFrame(this.panFrame);
    if (!smooth || !this.view) { this.view = target; this.applyView(); return; }
    const from = { ...this.view }, start = performance.now(), duration = 280;
    const step = (now) => {
      const f = Math.min(1, (now - start) / duration), e = 1 - Math.pow(1 - f, 3);
      this.view = {
        cx: from.cx + (target.cx - from.cx) * e, cy: from.cy + (target.cy - from.cy) * e,
        scale: from.scale * Math.pow(target.scale / from.scale, e),
      };
      this.applyView();
      if (f < 1) this.panFrame = requestAnimationFrame(step);
    };
    this.panFrame = requestAnimationFrame(step);
  }

  applyView() {
    const v = this.viewport(), { cx, cy, scale } = this.view;
    const w = v.width / scale, h = v.height / scale;
    this.svg.setAttribute("viewBox", `${cx - w / 2} ${cy - h / 2} ${w} ${h}`);
  }

  fit(smooth = true) {
    const scale = Math.min(this.fitScale(), 1.6);
    this.setView(this.size.width / 2, this.size.height / 2, scale, smooth);
  }

  zoomBy(factor, around = null) {
    if (!this.view) return;
    const { cx, cy, scale } = this.view;
    const next = Math.min(Math.max(scale * factor, 0.02), 8);
    if (!around) { this.setView(cx, cy, next); return; }
    // Keep the SVG point under the pointer where it is.
    this.setView(around.x + (cx - around.x) * scale / next, around.y + (cy - around.y) * scale / next, next);
  }

  // The box (in SVG units, as the viewBox counts them) around some nodes.
  boxOf(ids) {
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const id of ids) {
      const node = this.entryOf(id);
      if (!node) continue;
      const b = node.box;
      x0 = Math.min(x0, b.x); y0 = Math.min(y0, b.y);
      x1 = Math.max(x1, b.x + b.width); y1 = Math.max(y1, b.y + b.height);
    }
    return x0 === Infinity ? null : { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
  }

  visible(box, margin = 12) {
    const v = this.viewport(), { cx, cy, scale } = this.view;
    const w = v.width / scale, h = v.height / scale, m = margin / scale;
    return box.x >= cx - w / 2 + m && box.x + box.width <= cx + w / 2 - m &&
      box.y >= cy - h / 2 + m && box.y + box.height <= cy + h / 2 - m;
  }

  // Keep `ids` in view, moving only when they are not (a viewer keeps the picture otherwise).
  follow(ids, smooth) {
    const box = this.boxOf(ids);
    if (!box || !this.view || this.visible(box)) return;
    this.setView(box.x + box.width / 2, box.y + box.height / 2, this.view.scale, smooth);
  }

  // Presentation: the node (ids[0]) and its neighbours at >= minPx rendered text; the whole graph if
  // it fits. When the neighbours are too far apart to fit at that size, the node in the middle with
  // whatever of them is near.
  present(ids, minPx, smooth) {
    const minScale = minPx / TEXT_SIZE;
    const whole = Math.min(this.fitScale(), 2.2);
    if (whole >= minScale) {
      if (!this.view || Math.abs(this.view.scale - whole) > 1e-3) this.fit(smooth);
      return;
    }
    const box = this.boxOf(ids), focus = this.boxOf(ids.slice(0, 1));
    if (!box) return;
    const scale = Math.max(minScale, Math.min(this.fitScale(box, 24), 2.2));
    const apart = focus && this.fitScale(box, 12) < scale; // the neighbours cannot all be in view
    if (this.view && Math.abs(this.view.scale - scale) < 1e-3 && this.visible(apart ? focus : box)) return;
    const centre = apart ? focus : box; // too far apart: the node in the middle
    this.setView(centre.x + centre.width / 2, centre.y + centre.height / 2, scale, smooth);
  }

  // ---- pointer input --------------------------------------------------------------------------------
  svgPoint(event) {
    const r = this.box.getBoundingClientRect(), { cx, cy, scale } = this.view;
    return { x: cx + (event.clientX - r.left - r.width / 2) / scale, y: cy + (event.clientY - r.top - r.height / 2) / scale };
  }

  listen() {
    this.box.addEventListener("wheel", (event) => {
      if (!this.view) return;
      event.preventDefault();
      this.zoomBy(Math.exp(-event.deltaY * 0.0015), this.svgPoint(event));
    }, { passive: false });
    this.box.addEventListener("pointerdown", (event) => {
      if (!this.view || event.button !== 0) return;
      this.pointer = { x: event.clientX, y: event.clientY, view: { ...this.view }, moved: false, id: event.pointerId };
    });
    this.box.addEventListener("pointermove", (event) => {
      const p = this.pointer;
      if (!p) return;
      const dx = event.clientX - p.x, dy = event.clientY - p.y;
      if (!p.moved && Math.hypot(dx, dy) < 4) return;
      if (!p.moved) { p.moved = true; this.box.setPointerCapture(p.id); this.box.classList.add("dragging"); }
      this.setView(p.view.cx - dx / p.view.scale, p.view.cy - dy / p.view.scale, p.view.scale);
    });
    const end = (event) => {
      const p = this.pointer;
      this.pointer = null;
      this.box.classList.remove("dragging");
      if (!p || p.moved || event.type !== "pointerup") return;
      const group = event.target.closest?.("g.node, g.cluster");
      if (!group) return;
      if (/^n\d+$/.test(group.id)) this.onSelect?.(Number(group.id.slice(1)));
      else if (/^f\d+$/.test(group.id)) this.onFrame?.(Number(group.id.slice(1)), false); // open it
      else if (group.dataset.frame) this.onFrame?.(Number(group.dataset.frame), true); // close it
    };
    this.box.addEventListener("pointerup", end);
    this.box.addEventListener("pointercancel", end);
  }

  // ---- export ---------------------------------------------------------------------------------------
  // The graph as on screen at this step, as a standalone SVG file (the whole graph, not the view).
  svgText() {
    const copy = this.svg.cloneNode(true);
    copy.querySelectorAll(".travel, .selection").forEach((e) => e.remove());
    copy.setAttribute("viewBox", `0 0 ${this.size.width} ${this.size.height}`);
    copy.setAttribute("width", `${this.size.width}pt`);
    copy.setAttribute("height", `${this.size.height}pt`);
    copy.removeAttribute("style");
    return `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(copy)}\n`;
  }
}
