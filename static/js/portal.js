// Portal behaviour without inline script (strict Content-Security-Policy).

// Copy buttons are rendered hidden: without JavaScript they could do nothing.
function revealCopyButtons(root) {
  root.querySelectorAll("[data-copy-target][hidden]").forEach((button) => {
    if (navigator.clipboard) button.hidden = false;
  });
}
revealCopyButtons(document);
// Panels htmx swaps in (Test access, progress) bring their own.
document.addEventListener("htmx:load", (event) => revealCopyButtons(event.target));

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copyTarget);
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent).then(() => {
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  });
});
