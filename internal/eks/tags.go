package eks

// TagResourceInput is the body of POST /tags/{resourceArn}.
type TagResourceInput struct {
	Tags map[string]string `json:"tags"`
}

// TagsOutput is the body of GET /tags/{resourceArn}.
type TagsOutput struct {
	Tags map[string]string `json:"tags"`
}

// EmptyOutput is the body of TagResource and UntagResource: an empty object.
type EmptyOutput struct{}

// QueryTagKeys is UntagResource's query parameter, repeated once per key.
const QueryTagKeys = "tagKeys"
