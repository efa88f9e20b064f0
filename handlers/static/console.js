// The overview's charts: the per-minute series the page carries as JSON, drawn with uPlot.
"use strict";

const COLOURS = ["#2e6fdb", "#12b76a", "#f79009", "#d92d20", "#7a5af8", "#667085", "#0ba5ec", "#ee46bc"];

function chart(element, title, labels, columns) {
  const series = [{}].concat(labels.map((label, i) => ({label: label, stroke: COLOURS[i % COLOURS.length], points: {show: true, size: 4}})));
  const width = Math.max(300, element.clientWidth - 10);
  new uPlot({title: title, width: width, height: 200, series: series, scales: {x: {time: true}}}, columns, element);
}

function draw(section, window) {
  const at = window.at;
  const find = (name) => section.querySelector(`[data-chart=${name}]`);
  const outcomes = Object.keys(window.turns);
  chart(find("turns"), "Turns per minute, by outcome", outcomes, [at].concat(outcomes.map((name) => window.turns[name])));
  chart(find("latency"), "Reply latency (s)", ["p50", "p95"], [at, window.p50, window.p95]);
  const notices = window.turns.notice || at.map(() => 0);
  chart(find("errors"), "LLM errors and notices per minute", ["LLM errors", "notices"], [at, window.llm_errors, notices]);
  chart(find("queue"), "Queued turns and workers", ["queued", "workers"], [at, window.queue_depth, window.workers]);
}

document.addEventListener("DOMContentLoaded", () => {
  const windows = JSON.parse(document.getElementById("series").textContent);
  document.querySelectorAll("section.window").forEach((section) => draw(section, windows[Number(section.dataset.window)]));
});
