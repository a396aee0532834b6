// The new-plan form: htmx loads deferred, so a medicine chosen before it was ready sent
// nothing and the medicine's fields never came. When htmx has processed the page (and
// after each swap), a medicine that differs from the one the page was rendered with is
// sent as if just chosen.
htmx.onLoad(function (element) {
  var select = element.querySelector ? element.querySelector("select[name=product]") : null;
  if (!select) {
    return;
  }
  var rendered = select.options.length ? select.options[0].value : "";
  for (var i = 0; i < select.options.length; i++) {
    if (select.options[i].defaultSelected) {
      rendered = select.options[i].value;
    }
  }
  if (select.value !== rendered) {
    htmx.trigger(select, "change");
  }
});
