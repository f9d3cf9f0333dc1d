/* Video page transcript: the word being spoken is highlighted and kept in view as the player runs
   (clicking a word seeks: video.js handles every a.seek). */
(function () {
  "use strict";
  var player = document.getElementById("player");
  var box = document.getElementById("transcript");
  if (!player || !box) { return; }
  var words = Array.prototype.slice.call(box.querySelectorAll("a.word"));
  var current = null;
  function follow() {
    var t = player.currentTime, found = null;
    for (var i = 0; i < words.length; i++) {
      var w = words[i];
      if (parseFloat(w.dataset.start) <= t && t < parseFloat(w.dataset.end)) { found = w; break; }
    }
    if (found === current) { return; }
    if (current) { current.classList.remove("now"); }
    current = found;
    if (current) {
      current.classList.add("now");
      var top = current.offsetTop - box.offsetTop;
      if (top < box.scrollTop || top > box.scrollTop + box.clientHeight - 24) { box.scrollTop = top - 24; }
    }
  }
  player.addEventListener("timeupdate", follow);
  player.addEventListener("seeked", follow);
})();
