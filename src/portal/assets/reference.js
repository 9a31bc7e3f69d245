// Mounts Scalar's interactive API reference on the server-rendered reference page. Scalar's bundle is served by
// this service (/developers/assets/scalar.js), and everything that would reach the internet is turned off, so
// the page works offline: no web fonts, no telemetry, no AI agent.
const mount = document.getElementById("api-reference-app");
if (mount && window.Scalar) {
  window.Scalar.createApiReference("#api-reference-app", {
    url: mount.dataset.url,
    withDefaultFonts: false,
    telemetry: false,
    agent: { disabled: true },
    showDeveloperTools: "never",
    documentDownloadType: "both",
    // Every operation listed in the sidebar from the start: the reference is read as much as it is searched.
    defaultOpenAllTags: true,
  });
}
