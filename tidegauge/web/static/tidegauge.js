// tidegauge: the only script. Pressing "/" focuses the search box.
(function () {
  "use strict";
  document.addEventListener("keydown", function (e) {
    var tag = (e.target && e.target.tagName) || "";
    if (e.key === "/" && !/INPUT|TEXTAREA|SELECT/.test(tag)) {
      var box = document.querySelector(".search input");
      if (box) { e.preventDefault(); box.focus(); }
    }
  });
})();
