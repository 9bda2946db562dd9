# The cluster's VNet: nodes in one subnet, private endpoints (storage, Key Vault) in another, so
# the storage account and the vault can deny public traffic and still serve the cluster.
# The endpoints subnet is the one the pods' NetworkPolicy lets them reach on 443.

resource "azurerm_virtual_network" "main" {
  name                = "${var.prefix}-vnet"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  address_space       = [var.vnet_cidr]
  tags                = var.tags
}

resource "azurerm_subnet" "nodes" {
  name                 = "nodes"
  resource_group_name  = azurerm_resource_group.main.name
  virtual_network_name = azurerm_virtual_network.main.name
  address_prefixes     = [var.nodes_subnet_cidr]
}

resource "azurerm_subnet" "endpoints" {
  name                              = "endpoints"
  resource_group_name               = azurerm_resource_group.main.name
  virtual_network_name              = azurerm_virtual_network.main.name
  address_prefixes                  = [var.endpoints_subnet_cidr]
  private_endpoint_network_policies = "Enabled" # NSG rules apply to the endpoints too
}

# No inbound rules of our own: Azure's defaults allow the VNet and the load balancer only.
resource "azurerm_network_security_group" "main" {
  name                = "${var.prefix}-nsg"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  tags                = var.tags
}

resource "azurerm_subnet_network_security_group_association" "nodes" {
  subnet_id                 = azurerm_subnet.nodes.id
  network_security_group_id = azurerm_network_security_group.main.id
}

resource "azurerm_subnet_network_security_group_association" "endpoints" {
  subnet_id                 = azurerm_subnet.endpoints.id
  network_security_group_id = azurerm_network_security_group.main.id
}

locals {
  # Private DNS zone of each private endpoint's sub-resource: the public names resolve to the
  # endpoints inside the VNet. Storage: blob (delta-rs, MLflow) and dfs (abfss:// for Spark).
  private_zones = {
    blob  = "privatelink.blob.core.windows.net"
    dfs   = "privatelink.dfs.core.windows.net"
    vault = "privatelink.vaultcore.azure.net"
  }
  private_targets = {
    blob  = azurerm_storage_account.lake.id
    dfs   = azurerm_storage_account.lake.id
    vault = azurerm_key_vault.main.id
  }
}

resource "azurerm_private_dns_zone" "private" {
  for_each            = local.private_zones
  name                = each.value
  resource_group_name = azurerm_resource_group.main.name
  tags                = var.tags
}

resource "azurerm_private_dns_zone_virtual_network_link" "private" {
  for_each              = local.private_zones
  name                  = "${var.prefix}-${each.key}"
  resource_group_name   = azurerm_resource_group.main.name
  private_dns_zone_name = azurerm_private_dns_zone.private[each.key].name
  virtual_network_id    = azurerm_virtual_network.main.id
  tags                  = var.tags
}

resource "azurerm_private_endpoint" "private" {
  for_each            = local.private_targets
  name                = "${var.prefix}-${each.key}"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  subnet_id           = azurerm_subnet.endpoints.id
  tags                = var.tags

  private_service_connection {
    name                           = "${var.prefix}-${each.key}"
    private_connection_resource_id = each.value
    subresource_names              = [each.key]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = each.key
    private_dns_zone_ids = [azurerm_private_dns_zone.private[each.key].id]
  }
}
