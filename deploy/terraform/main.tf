# textrepair on Azure: resource group, container registry, AKS in a VNet (network.tf), and an
# ADLS Gen2 account holding the lake (container "lake") and the MLflow artifacts (container
# "mlflow"), reached from the cluster through private endpoints. Pods authenticate as their own
# Entra ID identities (identity.tf); the Key Vault holds what the secrets add-on mounts
# (keyvault.tf). State lives in the remote backend of versions.tf.

resource "azurerm_resource_group" "main" {
  name     = "${var.prefix}-rg"
  location = var.location
  tags     = var.tags
}

resource "azurerm_log_analytics_workspace" "main" {
  name                = "${var.prefix}-logs"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  sku                 = "PerGB2018"
  retention_in_days   = 30
  tags                = var.tags
}

resource "azurerm_container_registry" "main" {
  #checkov:skip=CKV_AZURE_139:CD pushes from GitHub-hosted runners; use a self-hosted runner in the VNet to close it
  #checkov:skip=CKV_AZURE_166:quarantine would block CD's freshly pushed image until a scanner marks it verified
  name                          = "${var.prefix}acr"
  resource_group_name           = azurerm_resource_group.main.name
  location                      = azurerm_resource_group.main.location
  sku                           = "Premium" # needed for retention, trust and geo-replication policies
  admin_enabled                 = false     # AKS pulls with its managed identity (AcrPull below)
  public_network_access_enabled = true      # CI pushes from GitHub-hosted runners
  zone_redundancy_enabled       = true
  retention_policy_in_days      = 30
  trust_policy_enabled          = true
  quarantine_policy_enabled     = false
  data_endpoint_enabled         = true
  tags                          = var.tags
  georeplications {
    location                = "northeurope"
    zone_redundancy_enabled = true
  }
}

resource "azurerm_kubernetes_cluster" "main" {
  #checkov:skip=CKV_AZURE_115:API server restricted to api_authorized_ip_ranges; a private cluster needs a VNet runner for CD
  #checkov:skip=CKV_AZURE_117:host encryption with platform keys; a disk encryption set needs a Key Vault key (hardening step)
  name                              = "${var.prefix}-aks"
  location                          = azurerm_resource_group.main.location
  resource_group_name               = azurerm_resource_group.main.name
  dns_prefix                        = var.prefix
  sku_tier                          = "Standard"
  automatic_upgrade_channel         = "stable"
  node_os_upgrade_channel           = "NodeImage"
  local_account_disabled            = true
  role_based_access_control_enabled = true
  azure_policy_enabled              = true
  private_cluster_enabled           = false
  disk_encryption_set_id            = null
  oidc_issuer_enabled               = true # Workload Identity: pods trade their token for Entra ID's
  workload_identity_enabled         = true
  tags                              = var.tags

  api_server_access_profile {
    authorized_ip_ranges = var.api_authorized_ip_ranges
  }

  azure_active_directory_role_based_access_control {
    azure_rbac_enabled = true
  }

  default_node_pool {
    name                         = "system"
    vm_size                      = var.node_vm_size
    node_count                   = var.node_count
    auto_scaling_enabled         = true
    min_count                    = var.node_min
    max_count                    = var.node_max
    max_pods                     = 50
    os_disk_type                 = "Ephemeral"
    os_disk_size_gb              = 100
    host_encryption_enabled      = true
    only_critical_addons_enabled = true # workloads go to the "work" pool below
    vnet_subnet_id               = azurerm_subnet.nodes.id
    temporary_name_for_rotation  = "rotation"
    upgrade_settings {
      max_surge = "33%"
    }
  }

  identity {
    type = "SystemAssigned"
  }

  network_profile {
    network_plugin = "azure"
    network_policy = "azure" # enforces deploy/k8s/base/networkpolicy.yaml
    service_cidr   = var.service_cidr
    dns_service_ip = cidrhost(var.service_cidr, 10)
  }

  oms_agent {
    log_analytics_workspace_id = azurerm_log_analytics_workspace.main.id
  }

  key_vault_secrets_provider {
    secret_rotation_enabled = true
  }

  web_app_routing {
    dns_zone_ids = []
  }
}

resource "azurerm_kubernetes_cluster_node_pool" "work" {
  name                    = "work"
  kubernetes_cluster_id   = azurerm_kubernetes_cluster.main.id
  vm_size                 = var.node_vm_size
  auto_scaling_enabled    = true
  min_count               = var.node_min
  max_count               = var.node_max
  max_pods                = 50
  os_disk_type            = "Ephemeral"
  os_disk_size_gb         = 100
  host_encryption_enabled = true
  vnet_subnet_id          = azurerm_subnet.nodes.id
  tags                    = var.tags
  upgrade_settings {
    max_surge = "33%"
  }
}

# The kubelet identity pulls images from the registry.
resource "azurerm_role_assignment" "aks_acr_pull" {
  scope                            = azurerm_container_registry.main.id
  role_definition_name             = "AcrPull"
  principal_id                     = azurerm_kubernetes_cluster.main.kubelet_identity[0].object_id
  skip_service_principal_aad_check = true
}

resource "azurerm_storage_account" "lake" {
  #checkov:skip=CKV_AZURE_59:public endpoint kept for laptops and CI, but network_rules deny by default; the cluster uses the private endpoints
  #checkov:skip=CKV2_AZURE_1:platform-managed keys; customer-managed keys need a Key Vault (hardening step)
  #checkov:skip=CKV_AZURE_33:no queues are used; blob and DFS carry the data
  name                            = "${var.prefix}lake"
  resource_group_name             = azurerm_resource_group.main.name
  location                        = azurerm_resource_group.main.location
  account_tier                    = "Standard"
  account_replication_type        = "GRS"
  account_kind                    = "StorageV2"
  is_hns_enabled                  = true # ADLS Gen2: abfss:// paths for Spark and delta-rs
  min_tls_version                 = "TLS1_2"
  https_traffic_only_enabled      = true
  allow_nested_items_to_be_public = false
  shared_access_key_enabled       = false # Entra ID (managed identities) only
  local_user_enabled              = false
  public_network_access_enabled   = true # restricted by network_rules below
  tags                            = var.tags

  network_rules {
    default_action = "Deny"
    bypass         = ["AzureServices", "Logging", "Metrics"]
    ip_rules       = [for cidr in var.api_authorized_ip_ranges : trimsuffix(cidr, "/32")]
  }

  blob_properties {
    delete_retention_policy {
      days = 14
    }
    container_delete_retention_policy {
      days = 14
    }
  }

  sas_policy {
    expiration_period = "01.00:00:00"
  }
}

resource "azurerm_storage_data_lake_gen2_filesystem" "lake" {
  name               = "lake"
  storage_account_id = azurerm_storage_account.lake.id
  # The API may pass through the root to reach its prediction log (identity.tf), nothing more.
  ace {
    type        = "user"
    id          = azurerm_user_assigned_identity.workload["api"].principal_id
    permissions = "--x"
  }
}

resource "azurerm_storage_data_lake_gen2_filesystem" "mlflow" {
  name               = "mlflow"
  storage_account_id = azurerm_storage_account.lake.id
}
