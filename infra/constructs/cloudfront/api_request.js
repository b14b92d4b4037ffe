// Viewer request on `/api/*`: the HTTP API's routes are `/<service>/...`, so `/api/auth/login`
// reaches the origin as `/auth/login`. Besides the path only two headers (below) change: the query
// string, the other headers and the cookies (the refresh cookie is scoped to `/api/auth` on this
// origin) pass as they came.
//
// Behind CloudFront, API Gateway sees an edge's address, not the viewer's: the viewer's is sent
// in `x-letslive-viewer-address` (`VIEWER_ADDRESS_HEADER`), replacing any value the client sent.
// The API believes it only with the origin-verify header, which the distribution adds after this
// as an origin custom header; a viewer-sent one is dropped here, so only the distribution's arrives.
var PREFIX = '/api';
var VIEWER_ADDRESS_HEADER = 'x-letslive-viewer-address';
var ORIGIN_VERIFY_HEADER = 'x-letslive-origin-verify';

function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri === PREFIX || uri.startsWith(PREFIX + '/')) {
    request.uri = uri.substring(PREFIX.length) || '/';
  }
  // Assigned, not appended: a client-sent value (or several) is dropped.
  request.headers[VIEWER_ADDRESS_HEADER] = { value: event.viewer.ip };
  delete request.headers[ORIGIN_VERIFY_HEADER];
  return request;
}
