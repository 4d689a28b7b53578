// The live view: video from /video, stats and detections polled from /api/*, controls POSTed to
// /api/settings. The page's token (if any) comes from its own URL and goes with every request.
"use strict";
const token = new URLSearchParams(location.search).get("token");
const withToken = (path, params = {}) => {
  const query = new URLSearchParams(params);
  if (token) query.set("token", token);
  const text = query.toString();
  return text ? `${path}?${text}` : path;
};
const $ = (id) => document.getElementById(id);
let paused = false;

$("video").src = withToken("video");

async function post(settings) {
  const response = await fetch(withToken("api/settings", settings), {method: "POST", headers: {"X-Rtdetect": "1"}});
  const body = await response.json();
  $("error").textContent = response.ok ? "" : body.error;
  if (response.ok) showSettings(body.settings);
}

function showSettings(settings) {
  $("conf").value = settings.conf;
  $("conf-value").textContent = Number(settings.conf).toFixed(2);
  paused = settings.paused;
  $("pause").textContent = paused ? "Resume" : "Pause";
}

function cell(row, text) { row.insertCell().textContent = text; }

async function refresh() {
  try {
    const stats = await (await fetch(withToken("api/stats"))).json();
    const list = $("stats");
    list.replaceChildren();
    const add = (name, value) => {
      const dt = document.createElement("dt"); dt.textContent = name;
      const dd = document.createElement("dd"); dd.textContent = value;
      list.append(dt, dd);
    };
    add("FPS", stats.fps.toFixed(1));
    add("frames", stats.frames);
    add("viewers", `${stats.viewers} / ${stats.max_viewers}`);
    for (const [stage, ms] of Object.entries(stats.latency_ms)) add(`${stage} (ms)`, ms.toFixed(1));
    if (document.activeElement !== $("conf")) showSettings(stats.settings);
    const record = await (await fetch(withToken("api/detections"))).json();
    const body = $("detections").tBodies[0];
    body.replaceChildren();
    for (const d of record.detections) {
      const row = body.insertRow();
      cell(row, d.label); cell(row, d.score.toFixed(2)); cell(row, d.track_id ?? "");
    }
    $("count").textContent = `(${record.detections.length})`;
  } catch (error) {
    $("error").textContent = "the run has ended or the server is unreachable";
  }
}

$("conf").addEventListener("input", () => { $("conf-value").textContent = Number($("conf").value).toFixed(2); });
$("conf").addEventListener("change", () => post({conf: $("conf").value}));
$("controls").addEventListener("submit", (event) => { event.preventDefault(); post({classes: $("classes").value}); });
$("pause").addEventListener("click", () => post({paused: paused ? "0" : "1"}));
refresh();
setInterval(refresh, 500);
