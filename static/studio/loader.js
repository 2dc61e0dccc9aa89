// The component's own JavaScript (ui/panels.py registers it): read the first line of the payload
// for where the step view's modules are served (Streamlit's static folder) and their version,
// load them once, and hand over. They are ES modules in the repo: nothing comes from elsewhere.
export default async function (component) {
  const data = component.data;
  let head = "";
  if (typeof data === "string") head = data.slice(0, data.indexOf("\n"));
  else if (data) {
    const bytes = ArrayBuffer.isView(data) ? data : new Uint8Array(data);
    head = new TextDecoder().decode(bytes.subarray(0, bytes.indexOf(10)));
  }
  const page = JSON.parse(head);
  const base = new URL(`${page.static}studio/`, window.location.origin + window.location.pathname).href;
  const studio = await import(`${base}studio.js?v=${page.assets}`);
  return studio.mount(component, base);
}
