/* The printable roster's "Print" button (a script file: the pages' policy runs no inline script). */
document.querySelectorAll("[data-print]").forEach((button) => {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
});
