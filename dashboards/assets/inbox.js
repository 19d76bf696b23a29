// My work (the inbox): live countdowns to each deadline, and the visit form's location (WGS84 from the
// browser, only when the person allows it). Loaded by the inbox pages; harmless elsewhere.
(function () {
  "use strict";
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time.countdown").forEach(function (el) {
      var due = Date.parse(el.getAttribute("datetime"));
      if (isNaN(due)) { return; }
      var left = Math.round((due - now) / 1000);
      var item = el.closest(".item");
      if (left <= 0) {
        el.textContent = el.dataset.overdue;
        if (item && !item.dataset.answered) { item.classList.add("overdue"); }
        return;
      }
      var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
      el.textContent = h + ":" + pad(m) + ":" + pad(s) + " " + el.dataset.left;
    });
  }
  function locate() {
    var button = document.getElementById("locate");
    if (!button || !navigator.geolocation) { return; }
    button.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(function (pos) {
        document.getElementById("visit-lat").value = pos.coords.latitude.toFixed(6);
        document.getElementById("visit-lon").value = pos.coords.longitude.toFixed(6);
        button.textContent = button.dataset.done;
        button.classList.add("located");
      });
    });
  }
  function start() {
    if (!document.querySelector("time.countdown") && !document.getElementById("locate")) {
      return;
    }
    tick();
    setInterval(tick, 1000);
    locate();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
