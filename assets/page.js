// Behaviour added to the page once (into the page itself, not this iframe, which Streamlit may
// replace), so it outlives reruns and costs nothing per step:
//  - keys and presentation clickers step the timeline;
//  - the graph's scroll box keeps the current node in view (big graphs keep their natural size).
(function () {
  const page = window.parent;
  if (page.__backpropStudio) return;
  page.__backpropStudio = true;
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
    });

    let centred = null, pending = false;
    function follow() {
      pending = false;
      const box = document.querySelector('.st-key-graph_scroll [data-testid="stGraphVizChart"]');
      const node = box && box.querySelector('g[id^="current-"]');
      if (!node || node.id === centred) return;
      centred = node.id;
      const b = box.getBoundingClientRect(), n = node.getBoundingClientRect();
      const fits = n.left >= b.left && n.right <= b.right && n.top >= b.top && n.bottom <= b.bottom;
      if (!fits) {
        box.scrollTo({left: box.scrollLeft + (n.left - b.left) - (b.width - n.width) / 2,
                      top: box.scrollTop + (n.top - b.top) - (b.height - n.height) / 2, behavior: "smooth"});
      }
    }
    new MutationObserver(function () {
      if (!pending) { pending = true; requestAnimationFrame(follow); }
    }).observe(document.body, {subtree: true, childList: true});`;
  page.document.head.appendChild(script);
})();
