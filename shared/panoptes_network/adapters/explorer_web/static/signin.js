// Sign in with Firebase Authentication's REST API (locally the Auth emulator), then hand the
// ID token to the explorer, which verifies it and sets an HttpOnly session cookie.
(function () {
  "use strict";
  var form = document.getElementById("signin");
  if (!form) { return; }
  var status = document.getElementById("signin-status");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    status.textContent = "Signing in…";
    var url = form.dataset.authOrigin + "/v1/accounts:signInWithPassword?key=" + encodeURIComponent(form.dataset.apiKey);
    fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: form.email.value, password: form.password.value, returnSecureToken: true })
    }).then(function (answer) {
      return answer.json().then(function (body) {
        if (!answer.ok) { throw new Error((body.error && body.error.message) || "sign-in failed"); }
        return fetch("/session", {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": form.dataset.csrf },
          body: JSON.stringify({ id_token: body.idToken })
        });
      });
    }).then(function (answer) {
      return answer.json().then(function (body) {
        if (!answer.ok) { throw new Error(body.error || "the explorer refused the sign-in"); }
        var next = form.dataset.next;
        window.location.assign(next.charAt(0) === "/" && next.charAt(1) !== "/" ? next : "/");
      });
    }).catch(function (error) {
      status.textContent = "Not signed in: " + error.message;
      status.className = "error";
    });
  });
})();
