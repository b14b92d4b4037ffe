// Viewer request on the web app (the default behaviour). An S3 REST origin behind OAC has no
// index documents, and the static export (`trailingSlash: true`) has a folder per page:
// `/channel/?u=x` is served from `channel/index.html`; `/channel?u=x` (no extension) is
// redirected to `/channel/?u=x`, its canonical address, as the local edge does.
function handler(event) {
  var request = event.request;
  // `//host/x` would make the redirect below protocol-relative (an open redirect).
  var uri = request.uri.replace(/^\/+/, '/');
  if (uri.endsWith('/')) {
    request.uri = uri + 'index.html';
    return request;
  }
  var name = uri.substring(uri.lastIndexOf('/') + 1);
  if (name.indexOf('.') === -1) {
    return {
      statusCode: 301,
      statusDescription: 'Moved Permanently',
      headers: { location: { value: uri + '/' + queryString(request.querystring) } },
    };
  }
  request.uri = uri;
  return request;
}

// CloudFront passes the query string parsed, with values as the viewer sent them (still
// percent-encoded), so they are joined back unchanged.
function queryString(querystring) {
  var parts = [];
  for (var key in querystring) {
    var entry = querystring[key];
    var values = entry.multiValue ? entry.multiValue : [entry];
    for (var i = 0; i < values.length; i++) {
      parts.push(key + '=' + values[i].value);
    }
  }
  return parts.length ? '?' + parts.join('&') : '';
}
