// Wizard steps: show only the fields of the chosen option (no inline script: strict CSP).
// Without JavaScript the "Show the fields for this choice" button asks the server instead.
// A field that holds input or an error stays visible whatever is chosen: the server then
// asks about it rather than dropping it. A value the page came with (a prefill) is input
// only when the server says so (data-holds-input).
(() => {
  const groups = () => document.querySelectorAll("[data-option-control]");
  const keep = (group) =>
    group.querySelector(".invalid-feedback") !== null ||
    Array.from(group.querySelectorAll("input, textarea, select")).some((input) =>
      input.type === "checkbox" || input.type === "radio"
        ? input.checked !== input.defaultChecked ||
          (input.checked && group.dataset.holdsInput !== undefined)
        : input.value.trim() !== "" &&
          (input.value !== input.defaultValue || group.dataset.holdsInput !== undefined),
    );
  // Groups come in page order, so a control's own group (a choice shown only for another
  // choice, e.g. the organization condition under whole-account trust) is settled first.
  const update = () => {
    for (const group of groups()) {
      const name = group.dataset.optionControl;
      const chosen = document.querySelector(`input[name="${CSS.escape(name)}"]:checked`);
      const parent = chosen === null ? null : chosen.closest("[data-option-control]");
      const shown =
        chosen !== null && chosen.value === group.dataset.option && !(parent && parent.hidden);
      group.hidden = !shown && !keep(group);
    }
  };
  document.addEventListener("DOMContentLoaded", () => {
    if (groups().length === 0) return;
    for (const button of document.querySelectorAll("[data-show-fields]")) button.hidden = true;
    document.addEventListener("change", (event) => {
      if (event.target.matches("input[type=radio]")) update();
    });
  });
})();
