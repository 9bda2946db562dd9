# Workload Identity: one Entra ID identity per Kubernetes service account, federated with the
# cluster's OIDC issuer, so a pod holds no secret and gets only its own role. The client ids go
# into the aks overlay's service account annotations (azure.workload.identity/client-id).
#   api    (textrepair):        reads the lake and the MLflow artifacts; writes nothing but its
#                               prediction log (an ACL on that one directory).
#   stream (textrepair-stream): reads and writes the lake; reads the MLflow artifacts.
# Terraform writes the ACLs through the data plane: its own identity needs "Storage Blob Data
# Owner" on the account and an address in api_authorized_ip_ranges.

locals {
  workloads = {
    api    = "textrepair"
    stream = "textrepair-stream"
  }
  # ARM scopes of the two filesystems (containers), for role assignments narrower than the account.
  container_scope = {
    lake   = "${azurerm_storage_account.lake.id}/blobServices/default/containers/${azurerm_storage_data_lake_gen2_filesystem.lake.name}"
    mlflow = "${azurerm_storage_account.lake.id}/blobServices/default/containers/${azurerm_storage_data_lake_gen2_filesystem.mlflow.name}"
  }
  # The lake root of the pods (the ConfigMap's TEXTREPAIR_STORAGE__ROOT) and the API's table.
  lake_root_dir      = "textrepair"
  prediction_log_dir = "textrepair/prediction_log"
}

resource "azurerm_user_assigned_identity" "workload" {
  for_each            = local.workloads
  name                = "${var.prefix}-${each.key}"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  tags                = var.tags
}

resource "azurerm_federated_identity_credential" "workload" {
  for_each            = local.workloads
  name                = "${var.prefix}-${each.key}"
  resource_group_name = azurerm_resource_group.main.name
  parent_id           = azurerm_user_assigned_identity.workload[each.key].id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = azurerm_kubernetes_cluster.main.oidc_issuer_url
  subject             = "system:serviceaccount:textrepair:${each.value}"
}

resource "azurerm_role_assignment" "api_reads_lake" {
  scope                = local.container_scope.lake
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = azurerm_user_assigned_identity.workload["api"].principal_id
}

resource "azurerm_role_assignment" "stream_writes_lake" {
  scope                = local.container_scope.lake
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.workload["stream"].principal_id
}

resource "azurerm_role_assignment" "workloads_read_mlflow" {
  for_each             = local.workloads
  scope                = local.container_scope.mlflow
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = azurerm_user_assigned_identity.workload[each.key].principal_id
}

# The API's one write: its prediction log. RBAC gives it read only; this ACL (and "--x" on the
# directories above it) lets it commit to that table, and the default ACL covers what it creates.
resource "azurerm_storage_data_lake_gen2_path" "lake_root" {
  path               = local.lake_root_dir
  filesystem_name    = azurerm_storage_data_lake_gen2_filesystem.lake.name
  storage_account_id = azurerm_storage_account.lake.id
  resource           = "directory"
  ace {
    type        = "user"
    id          = azurerm_user_assigned_identity.workload["api"].principal_id
    permissions = "--x"
  }
}

resource "azurerm_storage_data_lake_gen2_path" "prediction_log" {
  path               = local.prediction_log_dir
  filesystem_name    = azurerm_storage_data_lake_gen2_filesystem.lake.name
  storage_account_id = azurerm_storage_account.lake.id
  resource           = "directory"
  depends_on         = [azurerm_storage_data_lake_gen2_path.lake_root]
  ace {
    scope       = "access"
    type        = "user"
    id          = azurerm_user_assigned_identity.workload["api"].principal_id
    permissions = "rwx"
  }
  ace {
    scope       = "default"
    type        = "user"
    id          = azurerm_user_assigned_identity.workload["api"].principal_id
    permissions = "rwx"
  }
}
