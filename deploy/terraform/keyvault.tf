# The Key Vault the AKS secrets add-on (key_vault_secrets_provider in main.tf) reads: put the API
# keys here (az keyvault secret set --vault-name <key_vault_name> --name api-key --value ...),
# never in Terraform state, and mount them with a SecretProviderClass (secrets-store CSI driver).

data "azurerm_client_config" "current" {}

resource "azurerm_key_vault" "main" {
  #checkov:skip=CKV_AZURE_189:operators set secrets from the addresses in api_authorized_ip_ranges; the cluster uses the private endpoint
  name                          = "${var.prefix}-kv"
  location                      = azurerm_resource_group.main.location
  resource_group_name           = azurerm_resource_group.main.name
  tenant_id                     = data.azurerm_client_config.current.tenant_id
  sku_name                      = "standard"
  enable_rbac_authorization     = true # roles, not access policies
  purge_protection_enabled      = true
  soft_delete_retention_days    = 90
  public_network_access_enabled = true # restricted by network_acls below
  tags                          = var.tags

  network_acls {
    default_action = "Deny"
    bypass         = "AzureServices"
    ip_rules       = var.api_authorized_ip_ranges
  }
}

# The add-on's own identity reads the secrets it mounts; nothing else in the cluster can.
resource "azurerm_role_assignment" "secrets_addon_reads_vault" {
  scope                = azurerm_key_vault.main.id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_kubernetes_cluster.main.key_vault_secrets_provider[0].secret_identity[0].object_id
}
