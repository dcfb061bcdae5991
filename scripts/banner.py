"""Printed by `make run` before the processes start: where everything is and a curl that works as printed."""
import os

port = os.environ.get("COM_PORT", "8000")
som_port = os.environ.get("SOM_PORT", "8100")
token = os.environ.get("COM_DEMO_TOKEN", "demo-portal-token")
base = f"http://127.0.0.1:{port}"
body = ('{"description":"SuperFibre for Alice","relatedParty":[{"id":"CUST-1001","name":"Alice Martin",'
        '"role":"customer"}],"productOrderItem":[{"id":"1","action":"add","productOffering":'
        '{"id":"PO-SUPERFIBRE-200"},"product":{"productCharacteristic":[{"name":"downloadSpeed","value":200},'
        '{"name":"wifiManagement","value":true}],"place":[{"id":"ADDR-1001","role":"installationAddress"}]}}]}')
print(f"""
================================================================================
 COM is starting: web {base}, SOM simulator http://127.0.0.1:{som_port}
   Admin          {base}/admin/   users agent, supervisor, catalog, admin (password: demo)
   API docs       {base}/api/docs/        OpenAPI schema {base}/api/schema/
   TMF622         {base}/tmf-api/productOrderingManagement/v4/productOrder
   TMF620         {base}/tmf-api/productCatalogManagement/v4/productOffering
   TMF637         {base}/tmf-api/productInventory/v4/product
   Demo channel   portal, token {token}

 Place an order (it reaches 'completed' in a few seconds):

curl -s -X POST {base}/tmf-api/productOrderingManagement/v4/productOrder \\
  -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\
  -d '{body}'

 Then read it back (replace ORDER_ID with the "id" printed above):

curl -s {base}/tmf-api/productOrderingManagement/v4/productOrder/ORDER_ID -H 'Authorization: Bearer {token}'
================================================================================
""", flush=True)
