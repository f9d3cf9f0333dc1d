/* Video page: seek from ?t=, click timeline segments to play them, playhead, "now" buttons,
   frame-accurate stepping (buttons and keys: space, arrows, shift+arrows, J/K/L). */
(function () {
  "use strict";
  var player = document.getElementById("player");
  if (!player) { return; }
  var playhead = document.getElementById("playhead");
  var nowLabel = document.getElementById("now");
  var likeNow = document.getElementById("like-now");
  var duration = parseFloat(player.dataset.duration) || 0;
  var start = parseFloat(player.dataset.start);
  var frameNo = document.getElementById("frame-no");
  var playToggle = document.getElementById("play-toggle");
  // Frame duration from the stored frame rate (a fraction such as 30000/1001); 1/30 s if unknown.
  var fps = (function (text) {
    var parts = (text || "").split("/"), value = parseFloat(parts[0]) / parseFloat(parts[1] || "1");
    return isFinite(value) && value > 0 ? value : 0;
  })(player.dataset.fps);
  var frameSeconds = fps ? 1 / fps : 1 / 30;

  function stamp(seconds) {
    var ms = Math.round(seconds * 1000);
    var h = Math.floor(ms / 3600000), m = Math.floor(ms / 60000) % 60, s = Math.floor(ms / 1000) % 60;
    function pad(n, w) { return String(n).padStart(w, "0"); }
    return pad(h, 2) + ":" + pad(m, 2) + ":" + pad(s, 2) + "." + pad(ms % 1000, 3);
  }

  // Media clocks are floats: a frame starting at 2.002 s may report 2.001999 and show the
  // previous frame. Seeking a fraction of a millisecond later shows the scene's first frame.
  var FRAME_EPSILON = 0.0004;

  function seek(seconds, play) {
    player.currentTime = Math.min(seconds + FRAME_EPSILON, player.duration || Infinity);
    if (play) { player.play().catch(function () { /* autoplay may be refused */ }); }
  }

  function frameIndex(t) { return Math.floor(t / frameSeconds + 0.01); }

  // Step by whole frames (unit "frame") or seconds, pausing first; lands on a frame's start.
  function step(count, unit) {
    player.pause();
    var t = player.currentTime || 0;
    var target = unit === "frame" ? (frameIndex(t) + count) * frameSeconds
      : frameIndex(t + count) * frameSeconds;
    var total = player.duration && isFinite(player.duration) ? player.duration : duration;
    seek(Math.max(0, Math.min(target, Math.max(0, total - frameSeconds))), false);
  }

  function togglePlay() {
    if (player.paused) { player.play().catch(function () { /* refused */ }); } else { player.pause(); }
  }

  function update() {
    var t = player.currentTime || 0;
    if (frameNo) { frameNo.textContent = "frame " + frameIndex(t) + (fps ? "" : " (at 30 fps: rate unknown)"); }
    if (playToggle) { playToggle.textContent = player.paused ? "Play" : "Pause"; }
    var total = player.duration && isFinite(player.duration) ? player.duration : duration;
    if (playhead && total > 0) { playhead.style.left = Math.min(100, 100 * t / total) + "%"; }
    if (nowLabel) { nowLabel.textContent = stamp(t); }
    if (likeNow) {
      var url = new URL(likeNow.href, window.location.href);
      url.searchParams.set("like", likeNow.dataset.video + "@" + t.toFixed(3));
      likeNow.href = url.toString();
    }
  }

  if (likeNow) {
    likeNow.dataset.video = new URL(likeNow.href, window.location.href).searchParams.get("like").split("@")[0];
  }

  if (!isNaN(start)) {
    if (player.readyState >= 1) { seek(start, false); }
    else { player.addEventListener("loadedmetadata", function () { seek(start, false); }, { once: true }); }
  }
  player.addEventListener("timeupdate", update);
  player.addEventListener("seeked", update);
  player.addEventListener("play", update);
  player.addEventListener("pause", update);

  document.querySelectorAll(".framebar button[data-step]").forEach(function (button) {
    button.addEventListener("click", function () {
      step(parseInt(button.dataset.step, 10), button.dataset.unit);
    });
  });
  if (playToggle) { playToggle.addEventListener("click", togglePlay); }

  var KEYS = {
    " ": togglePlay,
    "arrowleft": function (event) { step(-1, event.shiftKey ? "second" : "frame"); },
    "arrowright": function (event) { step(1, event.shiftKey ? "second" : "frame"); },
    "j": function () { step(-1, "second"); },
    "k": function () { player.pause(); player.playbackRate = 1; },
    "l": function () {
      if (player.paused) { player.playbackRate = 1; player.play().catch(function () {}); }
      else { player.playbackRate = Math.min(4, player.playbackRate * 2); }
    }
  };

  // Captured before the player's own controls, so the keys mean the same wherever focus is,
  // except while typing in a form field (or pressing space on a button or link other than the
  // frame-stepping ones).
  document.addEventListener("keydown", function (event) {
    var action = KEYS[(event.key || "").toLowerCase()];
    var target = event.target;
    if (!action || event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) { return; }
    if (event.key === " " && target.closest && target.closest("button, a") && !target.closest(".framebar")) { return; }
    event.preventDefault();
    event.stopPropagation();
    action(event);
  }, true);

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a.seg, a.seek");
    if (!link || event.button !== 0 || event.metaKey || event.ctrlKey) { return; }
    event.preventDefault();
    seek(parseFloat(link.dataset.start), true);
    player.scrollIntoView({ block: "nearest", behavior: "smooth" });
  });

  document.querySelectorAll("button.set-now").forEach(function (button) {
    button.addEventListener("click", function () {
      var name = 'input[name="' + button.dataset.target + '"]';
      var form = document.getElementById(button.dataset.form);
      var input = document.querySelector(name + '[form="' + button.dataset.form + '"]') ||
        (form && form.querySelector(name));
      if (input) { input.value = (player.currentTime || 0).toFixed(3); }
    });
  });
  update();
})();
