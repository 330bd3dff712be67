/* What the pages' scripts share. Each script only enhances a page that is complete without it: it runs when
 * the page has the elements it works on and, if it uses one, the browser library that `make static` installs. */
window.calcinosisPages = {
  /* Call enhance with the elements of ids, when they are all on the page and window[library] is loaded. */
  enhance: function (ids, library, enhance) {
    "use strict";
    var elements = ids.map(function (id) {
      return document.getElementById(id);
    });
    var missing = elements.some(function (element) {
      return !element;
    });
    if (!missing && (!library || typeof window[library] !== "undefined")) {
      enhance.apply(null, elements);
    }
  }
};
