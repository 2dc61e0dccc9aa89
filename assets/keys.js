// Keyboard and clicker control of the timeline. Installed once into the page itself (not this
// iframe, which Streamlit may replace), so the listener outlives reruns.
(function () {
  const page = window.parent;
  if (page.__backpropStudioKeys) return;
  page.__backpropStudioKeys = true;
  const script = page.document.createElement("script");
  script.textContent = `
    document.addEventListener("keydown", function (event) {
      const target = event.target;
      const typing = target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
      if (typing || event.altKey || event.ctrlKey || event.metaKey) return;
      const keys = {ArrowRight: "next", PageDown: "next", ArrowLeft: "prev", PageUp: "prev", Home: "first", End: "last"};
      const where = keys[event.key];
      if (!where) return;
      const button = document.querySelector(".st-key-step_" + where + " button");
      if (button && !button.disabled) { event.preventDefault(); button.click(); }
    });`;
  page.document.head.appendChild(script);
})();
