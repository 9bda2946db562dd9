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
