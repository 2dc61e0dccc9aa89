// Keep the current node in view inside the graph's scroll box (big graphs keep their natural size
// and scroll instead of shrinking to the column). Runs in a same-origin component iframe; the
// graph re-renders asynchronously, so poll until the node of *this* step (id "current-T") exists.
(function () {
  const doc = window.parent.document;
  const wanted = "current-__T__";
  let tries = 0;
  const timer = setInterval(function () {
    tries += 1;
    const box = doc.querySelector('.st-key-graph_scroll [data-testid="stGraphVizChart"]');
    const node = box && box.querySelector('g[id="' + wanted + '"]');
    if (node) {
      clearInterval(timer);
      const b = box.getBoundingClientRect();
      const n = node.getBoundingClientRect();
      const fits = n.left >= b.left && n.right <= b.right && n.top >= b.top && n.bottom <= b.bottom;
      if (!fits) {
        box.scrollTo({
          left: box.scrollLeft + (n.left - b.left) - (b.width - n.width) / 2,
          top: box.scrollTop + (n.top - b.top) - (b.height - n.height) / 2,
          behavior: "smooth",
        });
      }
    } else if (tries > 50 || !box) {
      clearInterval(timer);
    }
  }, 100);
})();
