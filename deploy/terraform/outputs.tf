output "resource_group" {
  value = azurerm_resource_group.main.name
}

output "acr_login_server" {
  description = "Push images here; the aks overlay's image name."
  value       = azurerm_container_registry.main.login_server
}

output "aks_name" {
  description = "az aks get-credentials --resource-group <resource_group> --name <aks_name>"
  value       = azurerm_kubernetes_cluster.main.name
}

output "lake_uri" {
  description = "storage.root for the pipeline (TEXTREPAIR_STORAGE__ROOT)."
  value       = "abfss://${azurerm_storage_data_lake_gen2_filesystem.lake.name}@${azurerm_storage_account.lake.name}.dfs.core.windows.net/textrepair"
}

output "mlflow_artifact_uri" {
  description = "mlflow server --artifacts-destination (or mlflow.artifact_root)."
  value       = "abfss://${azurerm_storage_data_lake_gen2_filesystem.mlflow.name}@${azurerm_storage_account.lake.name}.dfs.core.windows.net/artifacts"
}

output "storage_account" {
  value = azurerm_storage_account.lake.name
}

output "api_identity_client_id" {
  description = "azure.workload.identity/client-id of the textrepair service account (aks overlay)."
  value       = azurerm_user_assigned_identity.workload["api"].client_id
}

output "stream_identity_client_id" {
  description = "azure.workload.identity/client-id of the textrepair-stream service account."
  value       = azurerm_user_assigned_identity.workload["stream"].client_id
}

output "key_vault_name" {
  description = "Where the API keys go (the secrets add-on mounts them)."
  value       = azurerm_key_vault.main.name
}
