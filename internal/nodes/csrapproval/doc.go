// Package csrapproval decides kubelets' serving-certificate requests
// (signer kubernetes.io/kubelet-serving), which no built-in controller
// approves: kube-apiserver trusts these certificates to reach kubelets, so
// one issued to the wrong name or address would let a node impersonate
// another. A request is approved only when the node it names belongs to the
// cluster's node groups and every address in it is one that node has;
// anything else is denied, with the reason in the condition.
//
// It holds no loop of its own: the cell calls Review for each pending
// request it watches.
package csrapproval
