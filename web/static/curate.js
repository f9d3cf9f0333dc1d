/* Curator tools: drag a segment's edges on the timeline to retime it.
   Dragging fills the segment's start/end inputs (snapping to shot cuts within 6 px); the
   curator then presses Save, which submits the same form as typing the times would. */
(function () {
  "use strict";
  var timeline = document.getElementById("timeline");
  if (!timeline || !document.getElementById("curator")) { return; }
  var duration = parseFloat(timeline.dataset.duration) || 0;
  var EDGE_PX = 7, SNAP_PX = 6;
  var cuts = Array.prototype.map.call(
    timeline.querySelectorAll(".shots-lane .seg"), function (s) { return parseFloat(s.dataset.start); });

  function input(id, name) { return document.querySelector('input[name="' + name + '"][form="edit-' + id + '"]'); }

  function timeAt(track, clientX) {
    var box = track.getBoundingClientRect();
    var t = Math.max(0, Math.min(1, (clientX - box.left) / box.width)) * duration;
    var px = box.width / duration;
    cuts.forEach(function (c) { if (Math.abs(c - t) * px <= SNAP_PX) { t = c; } });
    return t;
  }

  function place(seg, start, end) {
    seg.style.left = (100 * start / duration) + "%";
    seg.style.width = (100 * Math.max(0, end - start) / duration) + "%";
  }

  timeline.querySelectorAll(".seg[data-segment]").forEach(function (seg) {
    var id = seg.dataset.segment, startInput = input(id, "start"), endInput = input(id, "end");
    if (!startInput || !endInput) { return; }
    seg.classList.add("draggable");
    var drag = null;
    seg.addEventListener("pointerdown", function (event) {
      var box = seg.getBoundingClientRect();
      var edge = event.clientX - box.left <= EDGE_PX ? "start" : box.right - event.clientX <= EDGE_PX ? "end" : null;
      if (!edge) { return; }
      drag = { edge: edge, moved: false };
      seg.setPointerCapture(event.pointerId);
      event.preventDefault();
    });
    seg.addEventListener("pointermove", function (event) {
      if (!drag) {
        var box = seg.getBoundingClientRect();
        var near = event.clientX - box.left <= EDGE_PX || box.right - event.clientX <= EDGE_PX;
        seg.style.cursor = near ? "ew-resize" : "";
        return;
      }
      var t = timeAt(seg.parentElement, event.clientX);
      var start = parseFloat(startInput.value), end = parseFloat(endInput.value);
      if (drag.edge === "start") { start = Math.min(t, end - 0.001); } else { end = Math.max(t, start + 0.001); }
      startInput.value = start.toFixed(3);
      endInput.value = end.toFixed(3);
      place(seg, start, end);
      drag.moved = true;
    });
    seg.addEventListener("pointerup", function () {
      if (drag && drag.moved) {
        var row = document.getElementById("segment-" + id);
        if (row) { row.classList.add("changed"); }
        seg.dataset.dragged = "1";
      }
      drag = null;
    });
    seg.addEventListener("click", function (event) {
      if (seg.dataset.dragged) { delete seg.dataset.dragged; event.preventDefault(); event.stopImmediatePropagation(); }
    }, true);
  });
})();
