// Starts Swagger UI on the OpenAPI document this gateway serves (a module script runs after the
// classic swagger-ui-bundle.js that defines SwaggerUIBundle).
window.SwaggerUIBundle({
  url: document.body.dataset.openapi,
  dom_id: '#swagger-ui',
  deepLinking: true,
})
