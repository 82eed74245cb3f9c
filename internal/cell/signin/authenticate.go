package signin

import (
	"net/http"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/ekstoken"
)

// Extra keys the authenticator sets on the users it signs in, as EKS's
// authenticator names them. The authorizer finds the access entry by
// ExtraPrincipal.
const (
	ExtraARN         = "arn"
	ExtraPrincipal   = "canonicalArn"
	ExtraAccessKeyID = "accessKeyId"
	ExtraSessionName = "sessionName"
)

// authenticate answers a TokenReview (authentication.k8s.io/v1).
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) {
	c, err := s.caller(r)
	if err != nil {
		s.cfg.Log.Warn("sign-in: refused caller", "path", r.URL.Path, "err", err)
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	var review authenticationv1.TokenReview
	if !decode(w, r, &review) {
		return
	}
	review.Status = s.review(r, c, review.Spec.Token)
	reply(w, &review)
}

func (s *Server) review(r *http.Request, c *v1alpha1.Cluster, token string) authenticationv1.TokenReviewStatus {
	if !strings.HasPrefix(token, ekstoken.Prefix) {
		// Someone else's token (a service account's goes to its own
		// authenticator first): not ours to explain.
		return authenticationv1.TokenReviewStatus{}
	}
	log := s.cfg.Log.With("cluster", c.Spec.Name, "namespace", c.Namespace)
	id, err := s.cfg.Verifier.Verify(token, c.Spec.Name)
	if err != nil {
		log.Info("sign-in: token refused", "err", err)
		return authenticationv1.TokenReviewStatus{Error: "invalid token"}
	}
	entry, err := s.mapping(r, c, id.PrincipalARN)
	if err != nil {
		log.Error("sign-in: reading access entries", "err", err)
		return authenticationv1.TokenReviewStatus{Error: "cannot read access entries"}
	}
	if entry == nil {
		log.Info("sign-in: no access entry", "principal", id.PrincipalARN)
		return authenticationv1.TokenReviewStatus{Error: "no access entry for " + id.PrincipalARN}
	}
	user := authenticationv1.UserInfo{
		Username: username(entry, id),
		UID:      "aws-iam-authenticator:" + id.Account + ":" + id.PrincipalARN,
		Groups:   entry.Spec.KubernetesGroups,
		Extra: map[string]authenticationv1.ExtraValue{
			ExtraARN:         {id.ARN},
			ExtraPrincipal:   {id.PrincipalARN},
			ExtraAccessKeyID: {id.AccessKeyID},
		},
	}
	if id.SessionName != "" {
		user.Extra[ExtraSessionName] = authenticationv1.ExtraValue{id.SessionName}
	}
	log.Info("sign-in", "principal", id.ARN, "user", user.Username, "accessKeyId", id.AccessKeyID)
	return authenticationv1.TokenReviewStatus{Authenticated: true, User: user}
}

// username is the entry's user name with its templates filled in; without
// one, a user signs in as its ARN and a role as its assumed-role ARN, as at
// EKS.
func username(e *v1alpha1.AccessEntry, id ekstoken.Identity) string {
	name := e.Spec.Username
	if name == "" {
		name = id.PrincipalARN
		if id.SessionName != "" {
			role := id.PrincipalARN[strings.LastIndex(id.PrincipalARN, "/")+1:]
			name = "arn:aws:sts::" + id.Account + ":assumed-role/" + role + "/{{SessionName}}"
		}
	}
	return strings.NewReplacer("{{SessionName}}", id.SessionName, "{{AccountID}}", id.Account).Replace(name)
}
