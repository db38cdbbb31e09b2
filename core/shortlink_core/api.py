"""Names of the ShortLink API and of the objects shortlink owns in the cluster.

One place for every string that the CRD, the operator, the redirector and the Helm chart must agree
on, so a rename is a one-line change.
"""

from typing import Final

GROUP: Final = "shortlink.dev"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"
KIND: Final = "ShortLink"
PLURAL: Final = "shortlinks"
#: The cluster-scoped policy that restricts which slugs (and hosts) a namespace may use.
POLICY_KIND: Final = "ShortLinkPolicy"
POLICY_PLURAL: Final = "shortlinkpolicies"

#: Label on every routing-table ConfigMap: `true` on the shards, `manifest` on the manifest.
TABLE_LABEL: Final = f"{GROUP}/routing-table"
TABLE_LABEL_SELECTOR: Final = f"{TABLE_LABEL}=true"
MANIFEST_LABEL_VALUE: Final = "manifest"
#: The shards and the manifest: what the redirector (and the operator's repair watch) follow.
TABLE_OBJECTS_SELECTOR: Final = f"{TABLE_LABEL} in (true,{MANIFEST_LABEL_VALUE})"
#: Label naming the component that manages an object (Kubernetes recommended label).
MANAGED_BY_LABEL: Final = "app.kubernetes.io/managed-by"
MANAGED_BY: Final = "shortlink-operator"
#: Prefix of the routing-table ConfigMaps' names: `<prefix>-<shard number>`.
TABLE_NAME_PREFIX: Final = "shortlink-routes"
#: The ConfigMap listing every shard and its digest (see `shortlink_core.table`).
MANIFEST_NAME: Final = f"{TABLE_NAME_PREFIX}-manifest"

#: Field manager and kopf annotation prefix, so our writes are recognisable in managedFields.
FIELD_MANAGER: Final = "shortlink-operator"
ANNOTATION_PREFIX: Final = f"operator.{GROUP}"

#: Annotations on an Ingress, HTTPRoute or Service that declare a link to it: the operator creates
#: and owns a ShortLink with this slug (and these comma-separated aliases, and description).
SLUG_ANNOTATION: Final = f"{GROUP}/slug"
ALIASES_ANNOTATION: Final = f"{GROUP}/aliases"
DESCRIPTION_ANNOTATION: Final = f"{GROUP}/description"
#: Annotation on a Service giving the URL it is reached at from outside the cluster.
BASE_URL_ANNOTATION: Final = f"{GROUP}/base-url"
