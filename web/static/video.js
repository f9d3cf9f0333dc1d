/* Video page: seek from ?t=, click timeline segments to play them, playhead, "now" buttons. */
(function () {
  "use strict";
  var player = document.getElementById("player");
  if (!player) { return; }
  var playhead = document.getElementById("playhead");
  var nowLabel = document.getElementById("now");
  var likeNow = document.getElementById("like-now");
  var duration = parseFloat(player.dataset.duration) || 0;
  var start = parseFloat(player.dataset.start);

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

  function update() {
    var t = player.currentTime || 0;
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
