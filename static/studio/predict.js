// Predict, then reveal: in the backward pass, before a step is shown, ask what each parent will
// receive on it. The questions come with the payload (ui/derivation.py prompts), so asking costs
// no round trip; Python marks what was typed (core/claims.py check_prediction) and sends the marks
// and the score back in the page part. Nothing is computed here: this only asks and shows.

import { element } from "./panels.js";

export class Predictor {
  constructor(hooks) {
    this.hooks = hooks;
    this.on = false;
    this.revealed = new Set(); // backward steps shown in this pass (asked, or jumped over)
    this.typed = new Map(); // t -> [[position, text], ...] sent for marking
    this.marks = {}; // t -> [[position, status, mark, message], ...]: Python's marks
    this.score = [0, 0];
  }

  reset() {
    this.revealed.clear();
    this.typed.clear();
  }

  // A step to ask about before showing it.
  pending(data, t) {
    return this.on && Boolean(data?.prompts?.[t]) && !this.revealed.has(t);
  }

  // Moving forward from `from` to `to` shows every step in between: they are not asked again.
  passed(from, to) {
    for (let s = from + 1; s < to; s++) this.revealed.add(s);
  }

  // The form: one question per edge the step sends along, then Reveal.
  renderQuestions(container, data, t, { focus, onReveal }) {
    const [hint, asked] = data.prompts[t];
    const inputs = [];
    const questions = asked.map(([position, parent, question, kind]) => {
      const input = element("input", { type: "text", hook: this.hooks.answer, "data-position": String(position), placeholder: kind, autocomplete: "off", spellcheck: "false", "aria-label": question });
      input.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === "PageDown") { event.preventDefault(); onReveal(); } // PageDown: a clicker
        if (event.key === "Escape") input.blur(); // back to the keys that step
        event.stopPropagation();
      });
      inputs.push(input);
      return element("label", { class: "question", hook: this.hooks.question, "data-parent": String(parent) },
        element("span", { text: question }), input);
    });
    const reveal = element("button", { type: "button", class: "reveal", hook: this.hooks.reveal, text: "Reveal  ⏎" });
    reveal.addEventListener("click", onReveal);
    container.replaceChildren(
      element("p", { class: "sentence", text: "Predict first: what will this step send back?" }),
      ...questions,
      element("p", { class: "caption", text: hint }),
      reveal,
    );
    container.dataset.title = "predict";
    this.inputs = inputs;
    if (focus) inputs[0]?.focus({ preventScroll: true });
  }

  // What was typed, for Python to mark; the step counts as revealed from now on.
  collect(t) {
    this.revealed.add(t);
    const items = (this.inputs ?? []).map((input) => [Number(input.dataset.position), input.value]).filter(([, text]) => text.trim());
    this.inputs = null;
    if (items.length) this.typed.set(t, items);
    return items;
  }

  // Above the revealed step's text: each answer, and Python's mark for it (or "checking…").
  renderMarks(data, t) {
    const typed = this.typed.get(t);
    if (!this.on || !typed) return null;
    const marks = this.marks[t] ?? [];
    const asked = new Map((data.prompts[t]?.[1] ?? []).map(([position, , question]) => [position, question]));
    const rows = typed.map(([position, text]) => {
      const mark = marks.find(([p]) => p === position);
      const verdict = mark ? `${mark[2]} ${mark[3]}` : "checking…";
      return element("li", { class: `answer-mark ${mark ? mark[1] : "checking"}` },
        element("span", { class: "asked", text: asked.get(position) ?? "" }), " ",
        element("span", { text: "you wrote " }), element("code", { text }), element("br"),
        element("strong", { text: verdict }));
    });
    return element("ul", { class: "answer-marks" }, ...rows);
  }

  scoreText() {
    const [right, answered] = this.score;
    return answered ? `Score ${right} of ${answered}` : "Score —";
  }
}
