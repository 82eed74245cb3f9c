package account

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"math/big"
	"regexp"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/internal/errdefs"
)

// Account is a tenant of the region; every EKS resource belongs to one.
type Account struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

// AccessKey is one signing key of an account. SecretAccessKey is set only in
// the value returned when the key is created: it is never readable again.
type AccessKey struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey,omitempty"`
	Account         string `json:"account"`
	// Principal is the ARN of the IAM user the key signs for
	// (arn:aws:iam::<account>:user/<name>). Keys stored before principals
	// existed sign for the account's admin user (AdminUserARN).
	Principal string    `json:"principal"`
	Status    KeyStatus `json:"status"`
	CreatedAt time.Time `json:"createdAt"`
}

// AdminUserName is the user every account's first key belongs to.
const AdminUserName = "admin"

// UserARN is the ARN of the account's user name.
func UserARN(accountID, name string) string {
	return "arn:aws:iam::" + accountID + ":user/" + name
}

// AdminUserARN is the ARN of the account's admin user.
func AdminUserARN(accountID string) string { return UserARN(accountID, AdminUserName) }

// KeyStatus says whether a key may sign requests, as IAM's access key status.
type KeyStatus string

const (
	// KeyActive keys sign requests.
	KeyActive KeyStatus = "Active"
	// KeyInactive keys are refused, as unknown keys are, until activated again.
	KeyInactive KeyStatus = "Inactive"
)

// MaxKeysPerUser is how many access keys, active or not, one user of an
// account may hold: two, as IAM allows, which is what a rotation needs. Each
// user counts its own keys, the admin user's included.
const MaxKeysPerUser = 2

// Objects is the part of a controller-runtime client the store uses, so it runs
// on the region's management store or a fake.
type Objects interface {
	Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error
	List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error
	Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error
	Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error
	Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error
}

const (
	// AccessKeyPrefix starts every access key ID, as AKIA does at AWS.
	AccessKeyPrefix = "CPAK"
	accountIDDigits = 12
	secretLength    = 40
)

var (
	namePattern  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	idPattern    = regexp.MustCompile(`^[0-9]{12}$`)
	akidPattern  = regexp.MustCompile(`^CPAK[A-Z2-7]{16}$`)
	akidEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)
)

func validateName(name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("%w: account name %q must be 1-64 letters, digits, '-', '_' or '.'", errdefs.ErrInvalidParameter, name)
	}
	return nil
}

func validateAccessKeyID(akid string) error {
	if !akidPattern.MatchString(akid) {
		return fmt.Errorf("%w: access key ID %q must be %s followed by 16 characters A-Z and 2-7", errdefs.ErrInvalidParameter, akid, AccessKeyPrefix)
	}
	return nil
}

func validateID(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("%w: account ID %q must be 12 digits", errdefs.ErrInvalidParameter, id)
	}
	return nil
}

func newAccountID() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000_000_000))
	if err != nil {
		return "", fmt.Errorf("generating account ID: %w", err)
	}
	return fmt.Sprintf("%0*d", accountIDDigits, n), nil
}

// newAccessKeyID returns "CPAK" and 16 base32 characters (80 random bits).
func newAccessKeyID() (string, error) {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating access key ID: %w", err)
	}
	return AccessKeyPrefix + akidEncoding.EncodeToString(b), nil
}

// newSecret returns 40 base64 characters (240 random bits), the shape of an
// AWS secret access key, which tools sometimes validate.
func newSecret() (string, error) {
	b := make([]byte, secretLength*3/4)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating secret access key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}
