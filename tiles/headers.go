package tiles

// The HTTP headers of the tlog-tiles read API, for anything that serves a
// log's resources (a web server, a bucket a CDN fronts).
//
// SPEC: the checkpoint is text/plain; charset=utf-8 and SHOULD NOT be cached
// for more than a few seconds; tiles and entry bundles, full and partial
// (the width is in the path), are application/octet-stream and immutable.
const (
	CheckpointContentType  = "text/plain; charset=utf-8"
	CheckpointCacheControl = "no-cache"
	TileContentType        = "application/octet-stream"
	TileCacheControl       = "public, max-age=31536000, immutable"
)
