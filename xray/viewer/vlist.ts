/**
 * Viewer script, part 2: a virtualised list, so 10,000+ rows cost as much as the ~50 on screen.
 *
 * @module
 */

/** Browser JavaScript: `VList`, fixed-height rows rendered only while visible. */
export const VLIST_JS: string = String.raw`
/**
 * A scrolling list of count rows of fixed height; renderRow(index) returns the row element.
 * Only rows in (or near) the viewport exist in the DOM.
 */
function VList(host, rowHeight, renderRow) {
  var self = this;
  this.rowHeight = rowHeight;
  this.renderRow = renderRow;
  this.count = 0;
  this.el = h("div", { class: "vlist", tabindex: "0" });
  this.spacer = h("div", { class: "spacer" });
  this.el.appendChild(this.spacer);
  host.appendChild(this.el);
  this.pending = false;
  this.el.addEventListener("scroll", function () { self.schedule(); });
  window.addEventListener("resize", function () { self.schedule(); });
}
VList.prototype.schedule = function () {
  var self = this;
  if (this.pending) return;
  this.pending = true;
  requestAnimationFrame(function () { self.pending = false; self.render(); });
};
VList.prototype.setCount = function (n) {
  this.count = n;
  this.spacer.style.height = (n * this.rowHeight) + "px";
  this.render();
};
VList.prototype.render = function () {
  var top = this.el.scrollTop, height = this.el.clientHeight || 600;
  var first = Math.max(0, Math.floor(top / this.rowHeight) - 8);
  var last = Math.min(this.count, Math.ceil((top + height) / this.rowHeight) + 8);
  var frag = document.createDocumentFragment();
  for (var i = first; i < last; i++) {
    var row = this.renderRow(i);
    row.style.top = (i * this.rowHeight) + "px";
    frag.appendChild(row);
  }
  clear(this.spacer).appendChild(frag);
};
VList.prototype.scrollToIndex = function (i) {
  var top = i * this.rowHeight, vh = this.el.clientHeight;
  if (top < this.el.scrollTop) this.el.scrollTop = top;
  else if (top + this.rowHeight > this.el.scrollTop + vh) this.el.scrollTop = top - vh + this.rowHeight * 3;
};
`;
