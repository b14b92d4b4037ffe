import type { NextConfig } from "next";

// A static export (`web/out`): served from S3 behind CloudFront in AWS and by the local edge
// (`localstack/edge.py`) in `make dev`, on the same origin as `/api/*` and `/hls/*`.
// No server features: no API routes, no middleware, no image optimization.
// `npm run dev` (hot reload) against a running platform: LETSLIVE_EDGE=http://127.0.0.1:8088
// proxies the edge's routes. Development only: a static export has no rewrites.
const edge = process.env.NODE_ENV === "development" ? process.env.LETSLIVE_EDGE : undefined;

const config: NextConfig = {
  output: "export",
  trailingSlash: true,
  reactStrictMode: true,
  poweredByHeader: false,
  images: { unoptimized: true },
  // web/ has its own lockfile next to the repository's (the CDK tooling): this is the root.
  outputFileTracingRoot: __dirname,
  ...(edge && {
    skipTrailingSlashRedirect: true, // `/api/auth/login` must reach the API as it is
    rewrites: async () => [
      { source: "/api/:path*", destination: `${edge}/api/:path*` },
      { source: "/hls/:path*", destination: `${edge}/hls/:path*` },
      { source: "/config.json", destination: `${edge}/config.json` },
    ],
  }),
};

export default config;
