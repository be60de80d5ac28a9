// Starts Swagger UI on /api/docs (kept in a file: the CSP allows no inline script).
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
});
