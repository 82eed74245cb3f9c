package iam

import (
	"time"

	"github.com/cellplane/cellplane/internal/account"
)

// User is an IAM user of an account.
type User struct {
	Account   string    `json:"account"`
	Name      string    `json:"userName"`
	ARN       string    `json:"arn"`
	UserID    string    `json:"userId"`
	CreatedAt time.Time `json:"createDate"`
}

// Role is an IAM role of an account and the principals that may assume it.
type Role struct {
	Account   string             `json:"account"`
	Name      string             `json:"roleName"`
	ARN       string             `json:"arn"`
	RoleID    string             `json:"roleId"`
	CreatedAt time.Time          `json:"createDate"`
	Trust     []TrustedPrincipal `json:"trust"`
}

// AdminUserName is the user every account has.
const AdminUserName = account.AdminUserName

func (r record) user() User {
	return User{Account: r.Account, Name: r.Name, ARN: ARN(r.Account, KindUser, r.Name), UserID: r.ID, CreatedAt: r.CreatedAt}
}

func (r record) role() Role {
	trust := r.Trust
	if trust == nil {
		trust = []TrustedPrincipal{}
	}
	return Role{Account: r.Account, Name: r.Name, ARN: ARN(r.Account, KindRole, r.Name), RoleID: r.ID, CreatedAt: r.CreatedAt, Trust: trust}
}
